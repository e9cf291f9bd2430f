"""``relay`` subcommand: a signing relay for encoders that cannot sign."""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import sys

from mediastore_ingest._internal.redact import RedactingFilter
from mediastore_ingest._internal.show import shown
from mediastore_ingest.cli._common import env_value, read_setup, until_stopped
from mediastore_ingest.cli._kms import add_kms_args, url_signer
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.ingest import IngestConfig, RetryPolicy
from mediastore_ingest.origins import get_origin, origin_names
from mediastore_ingest.relay.journal import FSYNC_MODES
from mediastore_ingest.relay.relay import DEFAULT_CACHE_RULES, RelayConfig, SigningRelay
from mediastore_ingest.server.limits import ServerLimits

__all__ = ["register"]

logger = logging.getLogger("mediastore_ingest.relay.relay")


def _listen(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not (port.isascii() and port.isdigit()) or len(port) > 5:
        raise InvalidInputError(f"--listen takes HOST:PORT, not {shown(text)}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _megabytes(value: float) -> int:
    """--max-segment-mb in bytes (a finite number > 0)."""
    size = value * 1024 * 1024
    if not math.isfinite(size) or size < 1:
        raise InvalidInputError(f"--max-segment-mb must be a finite number > 0, not {value}")
    return int(size)


_SIZE_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(i?B)?", re.IGNORECASE)


def _size(text: str, flag: str) -> int:
    """A size in bytes: ``1073741824``, ``512M``, ``1G``, ``1GiB`` (powers of 1024)."""
    match = _SIZE_RE.fullmatch(text.strip())
    if match is None:
        raise InvalidInputError(f"{flag} takes a size such as 1G or 500M, not {shown(text)}")
    power = " KMGT".index(match.group(2).upper() or " ")
    size = int(float(match.group(1)) * 1024 ** power)
    if size < 1:
        raise InvalidInputError(f"{flag} must be at least 1 byte")
    return size


def default_journal_dir(port: int) -> str | None:
    """Where the journal of a relay on ``port`` lives when --journal-dir is not given:
    ``$XDG_STATE_HOME/mediastore-ingest/relay-<port>`` (``~/.local/state`` by
    default), so a restart on the same port finds it; None (a temporary journal)
    for port 0."""
    if port == 0:
        return None
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "mediastore-ingest", f"relay-{port}")


def _pairs(values: list[str] | None, flag: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in values or []:
        glob, eq, value = item.partition("=")
        if not eq or not glob or not value:
            raise InvalidInputError(f"{flag} takes GLOB=VALUE, not {item!r}")
        out.append((glob, value))
    return tuple(out)


def _build(args: argparse.Namespace) -> SigningRelay:
    to = args.to
    key_id = args.key_id
    origin = args.origin
    if args.setup:
        setup = read_setup(args.setup)
        to = to or setup.ingest_base_url
        key_id = key_id or setup.public_key_id
        origin = origin or setup.origin
    origin = origin or "mediastore"
    if not to:
        raise InvalidInputError("give --to (the ingest distribution) or --setup")
    signer = url_signer(args, key_id, key_id_flag="--key-id (or --setup)")
    if signer is None and not args.unsigned:
        raise InvalidInputError(
            "give --key-id/--private-key or --kms-key-id (or --setup), or --unsigned"
        )
    host, port = _listen(args.listen)
    if args.spool is not None:
        raise InvalidInputError(
            "--spool is gone: every object now goes through the relay's journal "
            "(--journal-dir), and what an earlier run left is uploaded when the relay "
            "starts again with the same journal"
        )
    cache_rules = _pairs(args.cache_control, "--cache-control") or DEFAULT_CACHE_RULES
    peers = ("127.0.0.0/8", "::1/128", *(args.allow_peer or ()))
    config = RelayConfig(
        host=host,
        port=port,
        prefix=args.prefix,
        content_types=_pairs(args.content_type, "--content-type"),
        cache_control=cache_rules,
        # Segments go up as they are written where the origin takes chunked uploads.
        streaming_segments=not args.no_streaming and get_origin(origin).streams,
        allow_delete=args.allow_delete,
        allowed_peers=peers,
        token=env_value(args.token_env, "relay token"),
        max_segment_bytes=_megabytes(args.max_segment_mb),
        max_in_flight=args.max_in_flight,
        journal_dir=args.journal_dir if args.journal_dir else default_journal_dir(port),
        journal_max_bytes=_size(args.journal_max_bytes, "--journal-max-bytes"),
        journal_max_objects=args.journal_max_objects,
        fsync=args.fsync,
        upload_workers=args.upload_workers,
        retry_after=args.retry_after,
        shutdown_timeout=args.shutdown_timeout,
        limits=ServerLimits(
            max_head_bytes=args.max_head_kb * 1024,
            header_timeout=args.header_timeout,
            idle_timeout=args.idle_timeout,
            body_min_rate=args.body_min_rate,
            max_connections=args.max_connections,
            max_connections_per_peer=args.max_connections_per_peer,
        ),
    )
    ingest_config = IngestConfig(
        origin=origin,  # its path rules, headers and upload kinds
        ca_bundle=args.ca_bundle,
        retry=RetryPolicy(max_attempts=args.max_attempts, backoff_cap=args.backoff_cap,
                          retry_after_cap=args.retry_after_cap),
        read_timeout=args.read_timeout,
    )
    return SigningRelay(
        to,
        signer=signer,
        auth=args.auth,
        config=config,
        ingest_config=ingest_config,
    )


def _cmd_relay(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    # Every line this process logs (urllib3's DEBUG request lines included) goes out
    # with signed URLs' Signature/Policy and URL passwords redacted.
    for log_handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in log_handler.filters):
            log_handler.addFilter(RedactingFilter())
    relay = _build(args)
    left = 0
    with until_stopped() as stop:
        try:
            relay.start()
            print(f"relay listening on {relay.url} -> {relay.client.base_url}", flush=True)
            stop.wait()
            logger.info("relay: %s received; finishing the requests on the wire and the "
                        "uploads (up to %g s)", stop.name, args.shutdown_timeout)
            left = relay.drain(args.shutdown_timeout)
        finally:
            relay.close()
    stats = relay.stats()
    print(
        f"relay stopped: {stats.journaled} journaled, {stats.replayed} replayed, "
        f"{stats.uploaded} uploaded, {stats.failed} failed (set aside), "
        f"{stats.retried} retried, {stats.superseded} superseded "
        f"({stats.superseded_manifests} manifests), {stats.aborted} aborted, "
        f"{stats.retries} retries, {stats.bytes_uploaded} bytes; "
        f"{left} left in the journal {relay.journal_dir}",
        flush=True,
    )
    return 1 if stats.failed else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``relay``."""
    p = sub.add_parser(
        "relay", help="signing relay: encoders PUT unsigned to loopback, forwarded signed",
        description="Listen on loopback for PUT/POST/DELETE from an encoder (ffmpeg, OBS, "
        "GStreamer), write each object to a local journal and answer 200 once it is "
        "durable there, then forward it, signed, to the ingest distribution: per path in "
        "order (never an older version over a newer one), each manifest after the "
        "segments it names, failed uploads tried again until they succeed. On start, "
        "uploads what an earlier run left in the journal. GET /metrics gives Prometheus "
        "metrics. SIGINT/SIGTERM: stop accepting, finish the requests on the wire and "
        "the uploads (--shutdown-timeout), then exit. Listening beyond loopback needs "
        "--token-env. Exit 1 if the origin refused an object for good.",
        epilog="example: mediastore-ingest relay --listen 127.0.0.1:8080 --to "
        "https://d1.cloudfront.net --key-id K2JCJMDEHXQW5F --private-key key.pem "
        "--prefix live/channel1/ ; then: ffmpeg ... -f hls -method PUT -http_persistent 1 "
        "http://127.0.0.1:8080/index.m3u8",
    )
    p.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                   help="where encoders push (default 127.0.0.1:8080; port 0 picks one)")
    p.add_argument("--to", metavar="URL", help="the ingest distribution, https://<domain>")
    p.add_argument("--setup", metavar="FILE",
                   help="setup JSON written by 'provision' (gives --to, --key-id and --origin)")
    p.add_argument("--key-id", help="CloudFront public key ID (upper-case)")
    p.add_argument("--private-key", metavar="PEM", help="private key file")
    p.add_argument("--password-env", metavar="VAR", help="env variable holding the key password")
    add_kms_args(p)
    p.add_argument("--hash-algorithm", choices=("SHA1", "SHA256"),
                   help="signature hash (default SHA256, sent as Hash-Algorithm=SHA256; SHA1 "
                   "is CloudFront's legacy default)")
    p.add_argument("--auth", choices=("url", "cookie"), default="url",
                   help="sign each URL (default) or send signed cookies")
    p.add_argument("--unsigned", action="store_true",
                   help="forward without signing (an origin that allows it)")
    p.add_argument("--ca-bundle", metavar="PEM", help="extra CA certificates (private CA)")
    p.add_argument("--prefix", default="", help="put before every path, e.g. live/channel1/")
    p.add_argument("--content-type", action="append", metavar="GLOB=TYPE",
                   help="Content-Type rule, e.g. '*.ts=video/MP2T' (repeat; first match wins)")
    p.add_argument("--cache-control", action="append", metavar="GLOB=VALUE",
                   help="Cache-Control rule (repeat; replaces the default: manifests "
                   "max-age=1, everything else max-age=31536000)")
    p.add_argument("--origin", choices=origin_names(), default=None,
                   help="what the distribution fronts: a MediaStore container (default, or "
                   "what --setup says) or an S3 bucket behind OAC (sends "
                   "x-amz-content-sha256, no streaming)")
    p.add_argument("--no-streaming", action="store_true",
                   help="upload segments with standard availability (not STREAMING)")
    p.add_argument("--allow-delete", action="store_true", help="forward DELETE requests")
    p.add_argument("--allow-peer", action="append", metavar="CIDR",
                   help="also admit these client addresses (needs --token-env)")
    p.add_argument("--token-env", metavar="VAR",
                   help="env variable holding the shared token required in X-Relay-Token")
    p.add_argument("--journal-dir", metavar="DIR",
                   help="the store-and-forward journal: every object is written here "
                   "before the encoder is answered, and stays until uploaded; a restart "
                   "with the same DIR uploads what is left (default "
                   "$XDG_STATE_HOME/mediastore-ingest/relay-PORT; a temporary one for "
                   "port 0)")
    p.add_argument("--journal-max-bytes", default="1G", metavar="SIZE",
                   help="body bytes the journal may hold, e.g. 1G, 500M (default 1G); "
                   "past it the relay answers 503 with Retry-After")
    p.add_argument("--journal-max-objects", type=int, default=100_000, metavar="N",
                   help="objects the journal may hold (default 100000)")
    p.add_argument("--fsync", choices=FSYNC_MODES, default="data",
                   help="before answering: none (survives the relay dying, not a power "
                   "loss), data (default: the body and its description), data+dir (and "
                   "the directory entries)")
    p.add_argument("--upload-workers", type=int, default=8, metavar="N",
                   help="uploads in parallel (default 8)")
    p.add_argument("--retry-after", type=int, default=2, metavar="SECONDS",
                   help="Retry-After sent with the relay's own 503 answers (default 2)")
    p.add_argument("--spool", metavar="DIR", help=argparse.SUPPRESS)  # gone: --journal-dir
    p.add_argument("--max-attempts", type=int, default=4, metavar="N",
                   help="tries per object including retries (default 4)")
    p.add_argument("--backoff-cap", type=float, default=2.0, metavar="SECONDS",
                   help="longest wait between tries (default 2)")
    p.add_argument("--retry-after-cap", type=float, default=30.0, metavar="SECONDS",
                   help="honour the edge's Retry-After up to this long per retry "
                   "(default 30)")
    p.add_argument("--read-timeout", type=float, default=20.0, metavar="SECONDS",
                   help="wait for the edge's answer at most this long (default 20)")
    p.add_argument("--max-segment-mb", type=float, default=25.0, metavar="MB",
                   help="largest object accepted (default 25)")
    p.add_argument("--max-in-flight", type=int, default=64, metavar="N",
                   help="request bodies received at once (default 64; 503 above)")
    p.add_argument("--shutdown-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="on SIGINT/SIGTERM: stop accepting, keep reading the requests "
                   "on the wire and uploading for up to this long (default 30); what "
                   "is left stays in the journal")
    d = ServerLimits()
    p.add_argument("--max-head-kb", type=int, default=d.max_head_bytes // 1024, metavar="KIB",
                   help=f"largest request head, in KiB (default {d.max_head_bytes // 1024}); "
                   "a longer one gets 431")
    p.add_argument("--header-timeout", type=float, default=d.header_timeout, metavar="SECONDS",
                   help=f"a request head must arrive within this (default {d.header_timeout:g})")
    p.add_argument("--idle-timeout", type=float, default=d.idle_timeout, metavar="SECONDS",
                   help="how long a keep-alive connection may wait for its next request "
                   f"(default {d.idle_timeout:g})")
    p.add_argument("--body-min-rate", type=float, default=d.body_min_rate, metavar="BYTES/S",
                   help=f"a body must keep up this rate after a {d.body_grace:g} s grace "
                   f"(default {d.body_min_rate:g}; 0: no minimum)")
    p.add_argument("--max-connections", type=int, default=d.max_connections, metavar="N",
                   help=f"connections served at once (default {d.max_connections})")
    p.add_argument("--max-connections-per-peer", type=int, default=d.max_connections_per_peer,
                   metavar="N", help="connections served at once from one address "
                   f"(default {d.max_connections_per_peer})")
    p.add_argument("--log-level", default="INFO",
                   choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   help="what the relay logs on stderr (default INFO)")
    p.set_defaults(func=_cmd_relay)
