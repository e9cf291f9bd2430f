"""Signing relay benchmark, on loopback, in one run.

    python benchmarks/relay.py [--segments 100] [--segment-kb 375] [--renditions 20]
                               [--realtime 100] [--seconds 10] [--fsync none]

The relay journals every object before answering (``--fsync``, ``none`` by default),
then uploads it: the encoder's answer no longer waits for the origin, so latency is
measured to the origin.

(a) added latency per segment: the same ``--segment-kb`` segment PUT ``--segments``
    times (one connection, keep-alive) straight to the ingest edge with a signing
    ``IngestClient`` (until its answer: the origin has it) vs through the relay
    (unsigned PUT, chunked, as ffmpeg sends it) until the origin has it (its request
    record appears). Median and p99 of each, the relay's added latency and ratio; and
    the encoder's wait (until the relay's 200: journaled).
(b) capacity: ``--renditions`` parallel renditions each push ``--segments``
    one-second segments (and a manifest after each) through the relay as fast as they
    can; wall time until the origin has everything. RTF = seconds of media moved per
    wall second, per rendition; renditions x RTF = how many renditions the relay could
    carry in real time.
(c) real time: ``--realtime`` renditions each push one segment and one manifest per
    second for ``--seconds`` s (staggered), as live encoders do. The relay keeps up if
    the journal drains (the oldest object waiting stays young) and the origin has
    everything right after the end. Prints the journal's deepest backlog, the oldest
    wait seen, and the delivery latency distribution.

The relay runs as ``python -m mediastore_ingest relay`` in its own process, as it is
deployed (INFO logging, to /dev/null); the edge, the origin and the load share this
process and the machine's cores with it. ``--in-process`` runs the relay in this
process too (one GIL for everything: an upper bound of the relay's cost).
Prints each measurement; exits 0 (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization

from mediastore_ingest.ingest import IngestConfig
from mediastore_ingest.relay import RelayConfig, SigningRelay
from mediastore_ingest.relay.metrics import LATENCY_BUCKETS
from mediastore_ingest.testing import LocalStack

ROOT = Path(__file__).resolve().parent.parent


class Relay:
    """The relay under test, in this process or in its own; read through /metrics."""

    def __init__(self, stack: LocalStack, args: argparse.Namespace, journal: str) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.inner: SigningRelay | None = None
        workers = str(args.upload_workers)
        in_flight = max(64, 2 * max(args.renditions, args.realtime))
        if args.in_process:
            self.inner = SigningRelay(
                stack.ingest_base_url, signer=stack.signer,
                ingest_config=IngestConfig(ca_bundle=stack.ca_bundle),
                config=RelayConfig(journal_dir=journal, fsync=args.fsync,
                                   streaming_segments=not args.no_streaming,
                                   upload_workers=args.upload_workers,
                                   max_in_flight=in_flight),
            ).start()
            self.port = self.inner.port
            return
        key = Path(journal).parent / "bench-key.pem"
        key.write_bytes(stack.key_pair.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        out = Path(journal).parent / "bench-relay.out"
        with out.open("wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mediastore_ingest", "relay", "--listen", "127.0.0.1:0",
                 "--to", stack.ingest_base_url, "--key-id", stack.key_id, "--private-key",
                 str(key), "--hash-algorithm", "SHA256", "--ca-bundle", stack.ca_bundle,
                 "--journal-dir", journal, "--fsync", args.fsync, "--upload-workers", workers,
                 "--max-in-flight", str(in_flight),
                 *(["--no-streaming"] if args.no_streaming else [])],
                stdout=fh, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        deadline = time.monotonic() + 30
        while True:
            match = re.search(rb"listening on http://127\.0\.0\.1:(\d+)", out.read_bytes())
            if match:
                self.port = int(match.group(1))
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the relay did not start")
            time.sleep(0.05)

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(60)

    def metrics(self) -> dict[str, float]:
        if self.inner is not None:
            text = self.inner.metrics_text()
        else:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics",
                                        timeout=30) as response:
                text = response.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def wait_uploaded(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.metrics()
            if m["mediastore_relay_journal_objects"] == 0:
                return True
            time.sleep(0.01)
        return False


def counter(m: dict[str, float], name: str) -> int:
    return int(m.get(f"mediastore_relay_{name}", 0))


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


class Stored:
    """Wakes whoever waits for a path the origin has stored (its 200 request record)."""

    def __init__(self, stack: LocalStack) -> None:
        self.container = stack.container
        self._seen = 0

    def wait(self, path: str, timeout: float = 30.0) -> None:
        target = "/" + path

        def stored(r: object) -> bool:
            return getattr(r, "path", "") == target and getattr(r, "status", None) == 200

        self.container.wait_for_request(stored, timeout=timeout)


def measure_latency(stack: LocalStack, config: IngestConfig, args: argparse.Namespace,
                    data: bytes, relay: Relay) -> None:
    direct: list[float] = []
    with stack.ingest_client(config=config) as client:
        client.put("warm/x.ts", data)
        for i in range(args.segments):
            t = time.perf_counter()
            client.put(f"direct/seg{i}.ts", data)
            direct.append(time.perf_counter() - t)
    stored = Stored(stack)
    answered: list[float] = []
    delivered: list[float] = []
    conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=60)
    assert chunked_put(conn, "/warm/y.ts", data) == 200
    stored.wait("warm/y.ts")
    for i in range(args.segments):
        stack.container.clear_requests()  # keeps the wait's scan short
        t = time.perf_counter()
        status = chunked_put(conn, f"/relay/seg{i}.ts", data)
        answered.append(time.perf_counter() - t)
        assert status == 200, status
        stored.wait(f"relay/seg{i}.ts")
        delivered.append(time.perf_counter() - t)
    conn.close()
    d_med, d_p99 = statistics.median(direct), percentile(direct, 0.99)
    r_med, r_p99 = statistics.median(delivered), percentile(delivered, 0.99)
    a_med, a_p99 = statistics.median(answered), percentile(answered, 0.99)
    where = "in this process" if args.in_process else "in its own process"
    print(f"(a) {args.segments} x {args.segment_kb} KB segments, one connection, "
          f"journal fsync={args.fsync}, relay {where}")
    print(f"    direct signed PUT : median {d_med * 1e3:7.2f} ms   p99 {d_p99 * 1e3:7.2f} ms")
    print(f"    through the relay : median {r_med * 1e3:7.2f} ms   p99 {r_p99 * 1e3:7.2f} ms"
          "   (until the origin has it)")
    print(f"    added by the relay: median {(r_med - d_med) * 1e3:7.2f} ms   "
          f"p99 {(r_p99 - d_p99) * 1e3:7.2f} ms")
    print(f"    ratio relay/direct: median {r_med / d_med:5.2f}x   p99 {r_p99 / d_p99:5.2f}x")
    print(f"    encoder's wait    : median {a_med * 1e3:7.2f} ms   p99 {a_p99 * 1e3:7.2f} ms"
          "   (until the relay's 200: journaled)")


def measure_capacity(args: argparse.Namespace, data: bytes, manifest: bytes,
                     relay: Relay) -> None:
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

    threads = [threading.Thread(target=rendition, args=(n,)) for n in range(args.renditions)]
    before = relay.metrics()
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    pushed = time.perf_counter() - t
    assert relay.wait_uploaded(timeout=600)
    wall = time.perf_counter() - t
    after = relay.metrics()
    rtf = args.segments / wall
    print(f"(b) {args.renditions} renditions x {args.segments} one-second segments "
          f"({args.segment_kb} KB) + manifests, in parallel through the relay, as fast as "
          "they can")
    print(f"    wall {wall:6.2f} s until the origin has everything (pushed in {pushed:.2f} s); "
          f"real-time factor per rendition {rtf:6.1f}x")
    print(f"    renditions the relay could carry in real time: {args.renditions * rtf:6.0f} "
          "(renditions x real-time factor)")
    stored = 'uploads_total{outcome="stored"}'
    manifests = "superseded_manifests_total"
    print(f"    failures: {len(errors)}; uploaded "
          f"{counter(after, stored) - counter(before, stored)} (every segment, and the "
          f"manifest versions not superseded by a newer one: "
          f"{counter(after, manifests) - counter(before, manifests)} were)")


def measure_realtime(args: argparse.Namespace, data: bytes, manifest: bytes,
                     relay: Relay) -> None:
    n = args.realtime
    errors: list[str] = []
    late: list[float] = []  # how far behind schedule a rendition sent its segment
    start = time.monotonic() + 1.0
    stop = threading.Event()
    deepest = [0, 0.0]

    def watch() -> None:
        while not stop.wait(0.1):
            m = relay.metrics()
            deepest[0] = max(deepest[0], int(m["mediastore_relay_journal_objects"]))
            deepest[1] = max(deepest[1], m["mediastore_relay_oldest_pending_seconds"])

    def rendition(k: int) -> None:
        c = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=60)
        offset = k / n  # staggered over the second, as independent encoders are
        try:
            for i in range(args.seconds):
                due = start + i + offset
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                else:
                    late.append(now - due)
                if chunked_put(c, f"/rt{k}/seg{i % 5}.ts", data) != 200:  # rolling names
                    errors.append(f"rt{k}/seg{i}.ts")
                if chunked_put(c, f"/rt{k}/index.m3u8", manifest) != 200:
                    errors.append(f"rt{k}/index.m3u8")
        finally:
            c.close()

    def histogram(m: dict[str, float]) -> tuple[int, list[int]]:
        name = "mediastore_relay_upload_seconds"
        return (int(m[f"{name}_count"]),
                [int(m[f'{name}_bucket{{le="{b}"}}']) for b in LATENCY_BUCKETS])

    before = relay.metrics()
    before_count, before_buckets = histogram(before)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    threads = [threading.Thread(target=rendition, args=(k,)) for k in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    ended = time.monotonic()
    drained = relay.wait_uploaded(timeout=120)
    tail = time.monotonic() - ended
    stop.set()
    watcher.join()
    after = relay.metrics()
    after_count, after_buckets = histogram(after)
    count = after_count - before_count
    within = {b: after_buckets[i] - before_buckets[i] for i, b in enumerate(LATENCY_BUCKETS)}
    # a segment superseded before upload means the relay was 5 s behind on that path
    superseded = 'uploads_total{outcome="superseded"}'
    dropped = ((counter(after, superseded) - counter(after, "superseded_manifests_total"))
               - (counter(before, superseded) - counter(before, "superseded_manifests_total")))
    keeps_up = (drained and tail < 1.0 and not errors and not dropped
                and (not late or max(late) < 1.0))
    print(f"(c) {n} renditions in real time: one {args.segment_kb} KB segment + a manifest "
          f"per second each, for {args.seconds} s ({n * 2} requests/s, "
          f"{n * len(data) / 1e6:.1f} MB/s)")
    print(f"    deepest journal backlog {deepest[0]} objects; oldest wait seen "
          f"{deepest[1]:.2f} s; drained {tail:.2f} s after the last request")
    share = ", ".join(f"<= {b:g} s: {100 * within[b] / max(1, count):.1f}%"
                      for b in (0.05, 0.1, 0.25, 0.5, 1.0))
    print(f"    delivery latency (arrival at the relay -> stored), {count} objects: {share}")
    print(f"    senders behind schedule: {len(late)} of {n * args.seconds} segments "
          f"(worst {max(late, default=0.0):.2f} s); failures: {len(errors)}; segments "
          f"superseded before upload: {dropped}")
    print(f"    keeps up with {n} renditions in real time: {'yes' if keeps_up else 'NO'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=100)
    parser.add_argument("--segment-kb", type=int, default=375, help="375 KB = 3 Mbit/s x 1 s")
    parser.add_argument("--renditions", type=int, default=20)
    parser.add_argument("--realtime", type=int, default=100,
                        help="renditions of the real-time run (0: skip it)")
    parser.add_argument("--seconds", type=int, default=10, help="length of the real-time run")
    parser.add_argument("--fsync", choices=("none", "data", "data+dir"), default="none")
    parser.add_argument("--upload-workers", type=int, default=8)
    parser.add_argument("--no-streaming", action="store_true",
                        help="upload each segment once it is journaled, not as it arrives")
    parser.add_argument("--in-process", action="store_true",
                        help="run the relay in this process (one GIL for everything)")
    args = parser.parse_args()
    data = os.urandom(args.segment_kb * 1024)
    manifest = b"#EXTM3U\n" + b"#EXTINF:1.0,\nseg.ts\n" * 6

    with LocalStack() as stack, tempfile.TemporaryDirectory() as tmp:
        config = IngestConfig(ca_bundle=stack.ca_bundle)
        relay = Relay(stack, args, str(Path(tmp, "journal")))
        try:
            measure_latency(stack, config, args, data, relay)
            stack.container.clear_requests()
            measure_capacity(args, data, manifest, relay)
            if args.realtime:
                stack.container.clear_requests()
                stack.container.clear()
                measure_realtime(args, data, manifest, relay)
            m = relay.metrics()
            stored = counter(m, 'uploads_total{outcome="stored"}')
            failed = counter(m, 'uploads_total{outcome="rejected"}')
            print(f"    relay: {counter(m, 'journaled_total')} journaled, {stored} uploaded, "
                  f"{failed} failed, {counter(m, 'retries_total')} retries, "
                  f"{counter(m, 'journal_objects')} left in the journal")
        finally:
            relay.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
