"""Ingest acceleration benchmark: time to origin over long links, in one run.

    python benchmarks/acceleration.py [--geography sao-paulo-us-west-2] [--segments 20]

A ``LocalStack(geography=...)`` puts long links (delay, bandwidth cap; see
``mediastore_ingest.testing.LongLink``) on the encoder -> edge, edge -> origin and
encoder -> origin paths. ``--segments`` segments of ``--segment-kb`` KB go to the
origin four ways, one after the other, and each one's time to origin (upload start
to the origin's acknowledgement) is measured:

(a) direct, a new connection per segment (what ffmpeg does with
    ``-http_persistent 0``): TCP and TLS handshakes across the long path each time;
(b) direct, one kept-alive connection (SigV4 with the container's credentials);
(c) through the ingest edge with this package's client (keep-alive to the edge; the
    edge keeps its origin connections warm);
(d) through the signing relay on the encoder's host (an unsigned chunked PUT on
    keep-alive, as ffmpeg sends it; the relay's client then does (c)).

Each is shown as median and p99, and as a ratio to the floor: one round trip of the
shorter path plus the uplink's serialisation of the segment, the least any client can
take. The first segment of each way is part of the sample (an encoder pays for its
connections too). The links model propagation and serialisation only: no loss, no
congestion control, no slow start, all of which favour warm connections further.
Exits 0 (a measurement, not a test); ``--check`` exits 1 if (c) misses its targets
(median <= 1.25 x floor and >= 2 x faster than (a)).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mediastore_ingest.cli._geography import (
    direct_client,
    new_connection_times,
    percentile,
    time_to_origin,
)
from mediastore_ingest.relay.relay import SigningRelay
from mediastore_ingest.testing import Geography, LocalStack


def chunked_put(conn: http.client.HTTPConnection, path: str, data: bytes) -> None:
    pieces = [data[i : i + 32 * 1024] for i in range(0, len(data), 32 * 1024)]
    conn.request("PUT", path, body=iter(pieces), encode_chunked=True,
                 headers={"Transfer-Encoding": "chunked", "Content-Type": "video/mp2t"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"relay PUT {path}: HTTP {response.status}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geography", default="sao-paulo-us-west-2")
    parser.add_argument("--segments", type=int, default=20)
    parser.add_argument("--segment-kb", type=int, default=375, help="375 KB = 3 Mbit/s x 1 s")
    parser.add_argument("--check", action="store_true", help="exit 1 if (c) misses its targets")
    args = parser.parse_args()
    geography = Geography.named(args.geography)
    size = args.segment_kb * 1000
    data = os.urandom(size)
    names = [f"seg{n}.ts" for n in range(args.segments)]
    started = time.perf_counter()
    times: dict[str, list[float]] = {}
    with LocalStack(geography=geography) as stack:
        times["(a) direct, new connection per segment"] = new_connection_times(
            stack, (f"live/a/{n}" for n in names), data
        )
        with direct_client(stack) as client:
            times["(b) direct, keep-alive"] = time_to_origin(
                client.put, (f"live/b/{n}" for n in names), data
            )
        with stack.ingest_client() as client:
            times["(c) through the edge, this client"] = time_to_origin(
                client.put, (f"live/c/{n}" for n in names), data
            )
        with SigningRelay(client=stack.ingest_client()) as relay:
            conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=60)
            try:
                times["(d) through the relay"] = time_to_origin(
                    lambda path, body: chunked_put(conn, "/" + path, body),
                    (f"live/d/{n}" for n in names), data,
                )
            finally:
                conn.close()
        round_trips = {name: link.counters() for name, link in stack.links.items()}
    floor = geography.floor(size)
    print(f"geography {geography.name}: {geography.description}")
    print(f"  RTT encoder->edge {geography.encoder_edge_rtt * 1e3:g} ms, edge->origin "
          f"{geography.edge_origin_rtt * 1e3:g} ms, encoder->origin "
          f"{geography.encoder_origin_rtt * 1e3:g} ms; uplink "
          f"{(geography.encoder_bandwidth or 0) / 1e6:g} Mbit/s")
    print(f"  {args.segments} x {size} B segments; floor {floor * 1e3:.1f} ms")
    medians = {}
    for label, values in times.items():
        med, p99 = statistics.median(values), percentile(values, 0.99)
        medians[label[:3]] = med
        print(f"  {label:40s} median {med * 1e3:7.1f} ms ({med / floor:4.2f}x floor)   "
              f"p99 {p99 * 1e3:7.1f} ms ({p99 / floor:4.2f}x floor)")
    speedup = medians["(a)"] / medians["(c)"]
    print(f"  (c) vs (a): {speedup:.2f}x faster; (c) median {medians['(c)'] / floor:.2f}x floor")
    for name, counters in round_trips.items():
        print(f"  link {name}: {counters.connections} connections, "
              f"{counters.flights_up} flights up")
    print(f"  wall {time.perf_counter() - started:.1f} s")
    if args.check and not (medians["(c)"] <= 1.25 * floor and speedup >= 2):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
