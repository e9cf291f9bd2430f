"""``relay`` subcommand: a signing relay for encoders that cannot sign."""

from __future__ import annotations

import argparse
import logging
import math
import sys

from mediastore_ingest._internal.show import shown
from mediastore_ingest.cli._common import env_value, read_setup, until_stopped
from mediastore_ingest.cli._kms import add_kms_args, url_signer
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.ingest import IngestConfig, RetryPolicy
from mediastore_ingest.origins import get_origin, origin_names
from mediastore_ingest.relay.relay import DEFAULT_CACHE_RULES, RelayConfig, SigningRelay

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
        spool_dir=args.spool,
        shutdown_timeout=args.shutdown_timeout,
    )
    ingest_config = IngestConfig(
        origin=origin,  # its path rules, headers and upload kinds
        ca_bundle=args.ca_bundle,
        retry=RetryPolicy(max_attempts=args.max_attempts, backoff_cap=args.backoff_cap),
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
    relay = _build(args)
    with until_stopped() as stop, relay:
        print(f"relay listening on {relay.url} -> {relay.client.base_url}", flush=True)
        stop.wait()
        logger.info("relay: %s received; finishing in-flight uploads", stop.name)
    stats = relay.stats()
    print(
        f"relay stopped: {stats.uploaded} uploaded, {stats.failed} failed "
        f"({stats.spooled} spooled), {stats.retries} retries, {stats.aborted} aborted, "
        f"{stats.bytes_uploaded} bytes",
        flush=True,
    )
    return 1 if stats.failed > stats.spooled else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``relay``."""
    p = sub.add_parser(
        "relay", help="signing relay: encoders PUT unsigned to loopback, forwarded signed",
        description="Listen on loopback for PUT/POST/DELETE from an encoder (ffmpeg, OBS, "
        "GStreamer) and forward each object, signed, to the ingest distribution, streaming "
        "bodies as they arrive, retrying within a bound. GET /metrics gives Prometheus "
        "metrics. SIGINT/SIGTERM: finish in-flight uploads, then exit. Exit 1 if an upload "
        "failed and was not spooled.",
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
    p.add_argument("--spool", metavar="DIR",
                   help="write objects whose upload finally failed here "
                   "(re-upload later with: mediastore-ingest sync DIR --to '' ...)")
    p.add_argument("--max-attempts", type=int, default=4, metavar="N",
                   help="tries per object including retries (default 4)")
    p.add_argument("--backoff-cap", type=float, default=2.0, metavar="SECONDS",
                   help="longest wait between tries (default 2)")
    p.add_argument("--read-timeout", type=float, default=20.0, metavar="SECONDS",
                   help="wait for the edge's answer at most this long (default 20)")
    p.add_argument("--max-segment-mb", type=float, default=25.0, metavar="MB",
                   help="largest object accepted (default 25)")
    p.add_argument("--max-in-flight", type=int, default=64, metavar="N",
                   help="objects held at once (default 64)")
    p.add_argument("--shutdown-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="on SIGINT/SIGTERM, wait this long for in-flight uploads")
    p.add_argument("--log-level", default="INFO",
                   choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   help="what the relay logs on stderr (default INFO)")
    p.set_defaults(func=_cmd_relay)
