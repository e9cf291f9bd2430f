"""Signing relay benchmark, on loopback, in one run.

    python benchmarks/relay.py [--segments 100] [--segment-kb 375] [--renditions 6]

(a) added latency per segment: the same ``--segment-kb`` segment PUT ``--segments``
    times (one connection, keep-alive) straight to the ingest edge with a signing
    ``IngestClient`` vs through the ``SigningRelay`` (unsigned PUT, chunked, as ffmpeg
    sends it). Median and p99 of each, and the relay's added latency and ratio.
(b) real-time factor for ``--renditions`` parallel renditions: each pushes
    ``--segments`` one-second segments (and a manifest after each) through the relay
    as fast as it can; RTF = seconds of media moved per wall second, per rendition
    (>= 1 means the relay keeps up with live).

Everything (edge, container, relay, load) runs in this process, so they share one
GIL: the numbers are an upper bound of the relay's cost. Prints each measurement and
ratio; exits 0 (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mediastore_ingest.ingest import IngestConfig
from mediastore_ingest.relay import RelayConfig, SigningRelay
from mediastore_ingest.testing import LocalStack


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def chunked_put(conn: http.client.HTTPConnection, path: str, data: bytes) -> int:
    pieces = [data[i : i + 32 * 1024] for i in range(0, len(data), 32 * 1024)]
    conn.request("PUT", path, body=iter(pieces), encode_chunked=True,
                 headers={"Transfer-Encoding": "chunked"})
    response = conn.getresponse()
    response.read()
    return response.status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=100)
    parser.add_argument("--segment-kb", type=int, default=375, help="375 KB = 3 Mbit/s x 1 s")
    parser.add_argument("--renditions", type=int, default=6)
    args = parser.parse_args()
    data = os.urandom(args.segment_kb * 1024)
    manifest = b"#EXTM3U\n" + b"#EXTINF:1.0,\nseg.ts\n" * 6

    with LocalStack() as stack:
        config = IngestConfig(ca_bundle=stack.ca_bundle)
        # (a) direct vs through the relay
        direct: list[float] = []
        with stack.ingest_client(config=config) as client:
            client.put("warm/x.ts", data)
            for i in range(args.segments):
                t = time.perf_counter()
                client.put(f"direct/seg{i}.ts", data)
                direct.append(time.perf_counter() - t)
        relayed: list[float] = []
        with SigningRelay(stack.ingest_base_url, signer=stack.signer, ingest_config=config,
                          config=RelayConfig(max_in_flight=4 * args.renditions)) as relay:
            conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=60)
            assert chunked_put(conn, "/warm/y.ts", data) == 200
            for i in range(args.segments):
                t = time.perf_counter()
                status = chunked_put(conn, f"/relay/seg{i}.ts", data)
                relayed.append(time.perf_counter() - t)
                assert status == 200, status
            conn.close()

            d_med, d_p99 = statistics.median(direct), percentile(direct, 0.99)
            r_med, r_p99 = statistics.median(relayed), percentile(relayed, 0.99)
            print(f"(a) {args.segments} x {args.segment_kb} KB segments, one connection")
            print(f"    direct signed PUT : median {d_med * 1e3:7.2f} ms   p99 {d_p99 * 1e3:7.2f} ms")
            print(f"    through the relay : median {r_med * 1e3:7.2f} ms   p99 {r_p99 * 1e3:7.2f} ms")
            print(f"    added by the relay: median {(r_med - d_med) * 1e3:7.2f} ms   "
                  f"p99 {(r_p99 - d_p99) * 1e3:7.2f} ms")
            print(f"    ratio relay/direct: median {r_med / d_med:5.2f}x   "
                  f"p99 {r_p99 / d_p99:5.2f}x")

            # (b) parallel renditions
            errors: list[str] = []

            def rendition(n: int) -> None:
                c = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=60)
                try:
                    for i in range(args.segments):
                        if chunked_put(c, f"/r{n}/seg{i}.ts", data) != 200:
                            errors.append(f"r{n}/seg{i}.ts")
                        if chunked_put(c, f"/r{n}/index.m3u8", manifest) != 200:
                            errors.append(f"r{n}/index.m3u8")
                finally:
                    c.close()

            threads = [threading.Thread(target=rendition, args=(n,))
                       for n in range(args.renditions)]
            t = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall = time.perf_counter() - t
            rtf = args.segments / wall
            print(f"(b) {args.renditions} renditions x {args.segments} one-second segments "
                  f"({args.segment_kb} KB) + manifests, in parallel through the relay")
            print(f"    wall {wall:6.2f} s; real-time factor per rendition {rtf:6.1f}x "
                  f"(>= 1.0 keeps up with live; ratio to target {rtf / 1.0:5.1f}x)")
            print(f"    failures: {len(errors)}; relay stats: {relay.stats()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
