"""``probe``: measure, from where it runs, what the ingest path costs.

Against the ingest distribution (and optionally the origin's own endpoint) it times,
on one connection of its own: the DNS look-up, the TCP connect, the TLS handshake
(and a second, resumed, one), the round trip of a request the server answers itself
(an unsigned ``HEAD``: the edge refuses it without asking the origin, so this is the
network's round trip to whoever answered), and the time to the first byte of a small
signed ``PUT`` and ``HEAD`` of a path the user names (deleted afterwards). Then it
uploads segments of a chosen size with a chosen concurrency through the ingest
client, as an encoder would. It reports the POP that answered (``X-Amz-Cf-Pop``,
``X-Cache``) and whether the connection was kept alive, as a table or ``--json``.

Exit 1 when the edge refuses the signature (or the origin refuses the forwarded
request), with the matching section of ``docs/guides/troubleshooting.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import socket
import ssl
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import attrs

from mediastore_ingest.cli._kms import add_kms_args, url_signer
from mediastore_ingest.errors import InvalidInputError, MediaStoreIngestError
from mediastore_ingest.ingest import IngestClient, IngestConfig, PutRequest, RetryPolicy
from mediastore_ingest.ingest.transports.tls import resuming_context
from mediastore_ingest.signing.signer import UrlSigner

__all__ = ["ProbeRefused", "Target", "measure", "register"]

_TROUBLESHOOTING = "docs/guides/troubleshooting.md"
# What CloudFront itself answers when it refuses a signature (the origin's own
# refusals are MediaStore JSON, or S3 XML carrying a RequestId).
_EDGE_CODES = frozenset({"AccessDenied", "MissingKey", "InvalidKey", "MalformedPolicy"})
_SMALL_BODY = b"mediastore-ingest probe\n"
_EXPIRY = datetime.timedelta(minutes=5)


class ProbeRefused(MediaStoreIngestError):
    """A signed request was refused (403): by the edge (the signature) or by the
    origin (the request the edge forwarded)."""

    def __init__(self, message: str, *, by_edge: bool) -> None:
        super().__init__(message)
        self.by_edge = by_edge


@attrs.frozen
class Target:
    """One endpoint to probe: ``label`` (``"edge"`` / ``"origin"``), ``base_url``, and
    ``client``: a factory of the ingest client for signed requests (``None``: the
    unsigned measurements only)."""

    label: str
    base_url: str
    client: Callable[[], IngestClient] | None
    signer: UrlSigner | None = None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


class _Connection:
    """One connection made step by step, so each step can be timed."""

    def __init__(self, base_url: str, context: ssl.SSLContext | None) -> None:
        split = urlsplit(base_url)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise InvalidInputError(f"not an http(s) URL: {base_url!r}")
        self.host = split.hostname
        self.port = split.port or (443 if split.scheme == "https" else 80)
        self.tls = split.scheme == "https"
        self.prefix = split.path.rstrip("/")
        self.context = context
        self.timings: dict[str, Any] = {}
        self.requests = 0
        self.connections = 0
        self._http: http.client.HTTPConnection | None = None

    def open(self) -> None:
        start = time.perf_counter()
        infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        resolved = time.perf_counter()
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(30)
            sock.connect(address)
            connected = time.perf_counter()
            if self.tls:
                assert self.context is not None
                sock = self.context.wrap_socket(sock, server_hostname=self.host)
                secured = time.perf_counter()
                assert isinstance(sock, ssl.SSLSocket)
                self.timings.setdefault("tls_version", sock.version())
            else:
                secured = connected
        except BaseException:
            sock.close()
            raise
        self.timings.setdefault("address", address[0])
        self.timings.setdefault("dns", resolved - start)
        self.timings.setdefault("tcp_connect", connected - resolved)
        self.timings.setdefault("tls_handshake", secured - connected if self.tls else None)
        self.connections += 1
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        connection.sock = sock
        self._http = connection

    def request(
        self, method: str, url: str, body: bytes | None = None
    ) -> tuple[float, http.client.HTTPResponse, bytes]:
        """Send one request; the time to the response head, the response, its body."""
        if self._http is None:
            self.open()
        assert self._http is not None
        split = urlsplit(url)
        target = split.path + (f"?{split.query}" if split.query else "")
        headers = {"Content-Length": str(len(body))} if body is not None else {}
        start = time.perf_counter()
        self._http.request(method, target or "/", body=body, headers=headers)
        response = self._http.getresponse()
        first_byte = time.perf_counter() - start
        content = response.read()
        self.requests += 1
        if response.will_close:
            self.close()
        return first_byte, response, content

    def close(self) -> None:
        connection, self._http = self._http, None
        if connection is not None:
            connection.close()

    def resumed_handshake(self) -> tuple[float | None, bool]:
        """A second TLS connection offering the first one's session."""
        if not self.tls or self.context is None:
            return None, False
        sock = socket.create_connection((self.host, self.port), timeout=30)
        try:
            start = time.perf_counter()
            secure = self.context.wrap_socket(sock, server_hostname=self.host)
        finally:
            sock.close()  # detached by a successful wrap
        with secure:
            return time.perf_counter() - start, bool(secure.session_reused)


def _edge_refusal(status: int, body: bytes) -> str | None:
    """CloudFront's error code when ``body`` is the edge's own refusal."""
    text = body[:4096].decode("utf-8", "replace")
    if status != 403 or "<Code>" not in text or "<RequestId>" in text:
        return None
    code = text.split("<Code>", 1)[1].split("</Code>", 1)[0]
    return code if code in _EDGE_CODES else None


def _refused(status: int, body: bytes, what: str) -> ProbeRefused:
    code = _edge_refusal(status, body)
    if code is not None:
        return ProbeRefused(
            f"the edge refused the signature of {what} (HTTP 403 {code}); see "
            f"{_TROUBLESHOOTING}, 'Symptom → cause' and 'Diagnosing a signed URL'",
            by_edge=True,
        )
    return ProbeRefused(
        f"the origin refused the request the edge forwarded for {what} (HTTP 403); see "
        f"{_TROUBLESHOOTING}, 'Diagnosing the origin'",
        by_edge=False,
    )


def _segments(path: str, size: int, count: int) -> Iterator[PutRequest]:
    body = bytes(range(256)) * (size // 256) + bytes(size % 256)
    for number in range(count):
        yield PutRequest(f"{path}.{number}", body)


def measure(
    target: Target,
    *,
    path: str,
    ca_bundle: str | None = None,
    rounds: int = 5,
    segment_size: int = 375_000,
    segments: int = 8,
    concurrency: int = 4,
) -> dict[str, Any]:
    """Probe ``target``; a JSON-ready dict of what was measured (milliseconds)."""
    connection = _Connection(target.base_url, resuming_context(ca_bundle))
    result: dict[str, Any] = {"label": target.label, "base_url": target.base_url}
    object_url = f"{target.base_url.rstrip('/')}/{quote(path.lstrip('/'), safe='/-_.~')}"
    try:
        connection.open()
        # Round trips to whoever answers: unsigned, so the server answers itself.
        rtts = []
        headers: http.client.HTTPMessage | None = None
        for _ in range(rounds):
            elapsed, response, _ = connection.request("HEAD", object_url)
            rtts.append(elapsed)
            headers = response.headers
        result["rtt"] = min(rtts)
        if headers is not None:
            result["pop"] = headers.get("X-Amz-Cf-Pop")
            result["x_cache"] = headers.get("X-Cache")
        if target.signer is not None:
            put_ttfb, head_ttfb = [], []
            for _ in range(rounds):
                signed = target.signer.sign_url(object_url, expires=_EXPIRY)
                elapsed, response, body = connection.request("PUT", signed, _SMALL_BODY)
                if response.status == 403:
                    raise _refused(response.status, body, f"PUT {path}")
                put_ttfb.append(elapsed)
                result["pop"] = response.headers.get("X-Amz-Cf-Pop") or result.get("pop")
                result["x_cache"] = response.headers.get("X-Cache") or result.get("x_cache")
                elapsed, response, body = connection.request("HEAD", signed)
                head_ttfb.append(elapsed)
            result["put_first_byte"] = min(put_ttfb)
            result["head_first_byte"] = min(head_ttfb)
            connection.request("DELETE", target.signer.sign_url(object_url, expires=_EXPIRY))
        result["requests"] = connection.requests
        result["connections"] = connection.connections
        result["keep_alive"] = connection.connections == 1
        resumed_time, resumed = connection.resumed_handshake()
        result["tls_resumed_handshake"] = resumed_time
        result["tls_resumed"] = resumed
    finally:
        connection.close()
    result.update(connection.timings)
    if target.client is not None and segments:
        result.update(_throughput(target.client, path, segment_size, segments, concurrency))
    for key in (
        "dns", "tcp_connect", "tls_handshake", "tls_resumed_handshake", "rtt",
        "put_first_byte", "head_first_byte", "segment_median", "segment_max", "elapsed",
    ):
        if key in result:
            result[key + "_ms"] = _ms(result.pop(key))
    return result


def _throughput(
    factory: Callable[[], IngestClient], path: str, size: int, count: int, concurrency: int
) -> dict[str, Any]:
    """Upload ``count`` segments of ``size`` bytes, ``concurrency`` in flight, through
    the ingest client (a new one: the first segments pay for its connections, as an
    encoder's do), then delete them."""
    with factory() as client:
        start = time.perf_counter()
        outcomes = client.put_many(_segments(path, size, count), max_concurrency=concurrency)
        elapsed = time.perf_counter() - start
        for outcome in outcomes:
            with contextlib.suppress(MediaStoreIngestError):  # best effort
                client.delete(outcome.path)
    for outcome in outcomes:
        if outcome.error is not None:
            raise outcome.error
    times = [o.result.elapsed for o in outcomes if o.result is not None]
    return {
        "segments": count,
        "segment_size": size,
        "concurrency": concurrency,
        "elapsed": elapsed,
        "throughput_mbit_s": round(8 * size * count / elapsed / 1e6, 2),
        "segment_median": statistics.median(times),
        "segment_max": max(times),
    }


# --- the command -------------------------------------------------------------------------

_ROWS: tuple[tuple[str, str], ...] = (
    ("address", "address"),
    ("dns_ms", "DNS"),
    ("tcp_connect_ms", "TCP connect"),
    ("tls_handshake_ms", "TLS handshake"),
    ("tls_resumed_handshake_ms", "TLS handshake, resumed"),
    ("rtt_ms", "round trip (server answers itself)"),
    ("put_first_byte_ms", "small signed PUT, first byte"),
    ("head_first_byte_ms", "signed HEAD, first byte"),
    ("throughput_mbit_s", "PUT throughput"),
    ("segment_median_ms", "segment time, median"),
    ("segment_max_ms", "segment time, max"),
    ("pop", "POP (X-Amz-Cf-Pop)"),
    ("x_cache", "X-Cache"),
    ("keep_alive", "connection kept alive"),
)


def _cell(key: str, result: dict[str, Any]) -> str:
    value = result.get(key)
    if value is None:
        return "-"
    if key.endswith("_ms"):
        text = f"{value:.1f} ms"
        if key == "tls_handshake_ms" and result.get("tls_version"):
            text += f" ({result['tls_version']})"
        if key == "tls_resumed_handshake_ms":
            text += " (resumed)" if result.get("tls_resumed") else " (not resumed)"
        return text
    if key == "throughput_mbit_s":
        return (
            f"{value:g} Mbit/s ({result['segments']} x {result['segment_size']} B, "
            f"{result['concurrency']} in flight)"
        )
    if key == "keep_alive":
        return (
            f"{'yes' if value else 'no'} ({result['requests']} requests on "
            f"{result['connections']} connection{'s' if result['connections'] != 1 else ''})"
        )
    return str(value)


def format_table(results: list[dict[str, Any]]) -> str:
    """The side-by-side table of one or two probe results."""
    header = ["", *(f"{r['label']} ({urlsplit(r['base_url']).netloc})" for r in results)]
    rows = [header] + [
        [label, *(_cell(key, r) for r in results)]
        for key, label in _ROWS
        if any(r.get(key) is not None for r in results)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    for result in results:
        if result.get("tcp_connect_ms") is not None and result.get("rtt_ms") is not None and (
            result["tcp_connect_ms"] < result["rtt_ms"] / 4
        ):
            lines.append(
                f"note: {result['label']}: connect() returned well before one round trip: "
                "something in the path (a proxy, a local link) answers the TCP handshake"
            )
    return "\n".join(lines)


def _cmd_probe(args: argparse.Namespace) -> int:
    for name in ("rounds", "segments", "concurrency", "segment_size"):
        if getattr(args, name) < (0 if name == "segments" else 1):
            raise InvalidInputError(f"--{name.replace('_', '-')} is too small")
    signer = url_signer(args, args.key_id)

    def config() -> IngestConfig:
        return IngestConfig(
            ca_bundle=args.ca_bundle,
            max_pool_connections=args.concurrency,
            retry=RetryPolicy(max_attempts=1),
            origin=args.origin,
        )

    targets = [
        Target(
            "edge",
            args.base_url,
            (lambda: IngestClient(args.base_url, signer=signer, config=config()))
            if signer is not None else None,
            signer,
        )
    ]
    if args.direct_endpoint:
        targets.append(
            Target(
                "origin",
                args.direct_endpoint,
                (lambda: IngestClient.direct(
                    args.direct_endpoint, region_name=args.region, config=config()
                )) if args.direct_upload else None,
            )
        )
    results = []
    try:
        for target in targets:
            results.append(
                measure(
                    target,
                    path=args.path,
                    ca_bundle=args.ca_bundle,
                    rounds=args.rounds,
                    segment_size=args.segment_size,
                    segments=args.segments,
                    concurrency=args.concurrency,
                )
            )
    except ProbeRefused as exc:
        print(f"mediastore-ingest: probe: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"mediastore-ingest: probe: cannot reach {target.base_url}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({r["label"]: r for r in results}, indent=2, sort_keys=True))
    else:
        print(format_table(results))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``probe``."""
    p = sub.add_parser(
        "probe", help="measure the ingest path from here: DNS, TCP, TLS, round trips, PUTs",
        description="Time DNS, TCP connect, TLS handshake (and a resumed one), the round "
        "trip to the edge, the first byte of a small signed PUT and HEAD of PATH (deleted "
        "afterwards), and PUT throughput of SEGMENTS segments of SIZE bytes with N in "
        "flight; report the POP that answered and whether the connection was kept alive. "
        "With --direct-endpoint, the same for the origin, side by side. Exit 1 if the edge "
        "refuses the signature (see docs/guides/troubleshooting.md).",
    )
    p.add_argument("--base-url", required=True, help="the ingest distribution")
    p.add_argument("--path", required=True,
                   help="object path to write, read and delete, e.g. live/probe/probe.bin")
    p.add_argument("--key-id", help="CloudFront public key ID (signed requests)")
    p.add_argument("--private-key", metavar="PEM", help="private key file (signed requests)")
    p.add_argument("--password-env", metavar="VAR", help="env variable holding the key password")
    add_kms_args(p, region=False)  # --region is below
    p.add_argument("--hash-algorithm", choices=("SHA1", "SHA256"), default="SHA256",
                   help="signature hash (default SHA256; SHA1 is CloudFront's legacy default)")
    p.add_argument("--origin", choices=("mediastore", "s3"), default="mediastore",
                   help="what the distribution forwards to (s3: send x-amz-content-sha256)")
    p.add_argument("--ca-bundle", metavar="PEM", help="extra CA certificates (local stack)")
    p.add_argument("--direct-endpoint", metavar="URL",
                   help="the origin's own endpoint, probed unsigned beside the edge")
    p.add_argument("--direct-upload", action="store_true",
                   help="also upload to --direct-endpoint with your AWS credentials (SigV4)")
    p.add_argument("--region", help="AWS region for --direct-upload and --kms-key-id")
    p.add_argument("--segment-size", type=int, default=375_000, metavar="BYTES",
                   help="segment size for the throughput test (default 375000)")
    p.add_argument("--segments", type=int, default=8, metavar="N",
                   help="segments to upload (default 8; 0: no throughput test)")
    p.add_argument("--concurrency", type=int, default=4, metavar="N",
                   help="uploads in flight (default 4)")
    p.add_argument("--rounds", type=int, default=5, metavar="N",
                   help="repetitions of each timed request (the minimum is reported)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=_cmd_probe)
