"""``put`` and ``sync`` subcommands: upload files through the ingest distribution.

``--origin`` picks the origin's rules (an S3 bucket behind OAC needs
``x-amz-content-sha256`` on every PUT); ``--setup FILE`` (what ``provision --out``
wrote) gives the distribution, the key id and the origin kind.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from mediastore_ingest.cli._common import hint_of, read_setup
from mediastore_ingest.cli._kms import add_kms_args, url_signer
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.ingest import (
    IngestClient,
    IngestConfig,
    ProgressLine,
    PutOutcome,
    PutRequest,
    RetryPolicy,
    live_cache_control,
)
from mediastore_ingest.ingest.media import is_manifest
from mediastore_ingest.origins import origin_names
from mediastore_ingest.relay.journal import is_journal

__all__ = ["register"]


def _join(prefix: str, name: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{name}" if prefix else name


def _client(args: argparse.Namespace) -> IngestClient:
    base_url, key_id, origin = args.base_url, args.key_id, args.origin
    if args.setup:
        if args.direct:
            raise InvalidInputError("--setup names the distribution; --direct does not use it")
        setup = read_setup(args.setup)
        base_url = base_url or setup.ingest_base_url
        key_id = key_id or setup.public_key_id
        origin = origin or setup.origin
    if not base_url:
        raise InvalidInputError("give --base-url (the ingest distribution) or --setup")
    config = IngestConfig(
        ca_bundle=args.ca_bundle,
        max_pool_connections=max(args.concurrency, 1),
        retry=RetryPolicy(max_attempts=args.max_attempts),
        cache_control=live_cache_control if args.live_cache_control else None,
        origin=origin or "mediastore",
    )
    if args.direct:
        return IngestClient.direct(base_url, region_name=args.region, config=config)
    signer = url_signer(args, key_id, key_id_flag="--key-id (or --setup)")
    return IngestClient(
        base_url,
        signer=signer,
        auth=args.auth,
        url_expiry=args.url_expiry,  # seconds; IngestClient checks the range
        config=config,
    )


def _run(
    args: argparse.Namespace, segments: list[PutRequest], manifests: list[PutRequest]
) -> int:
    """Upload ``segments``, then ``manifests`` only if every segment made it: a player
    must never see a manifest naming a segment that is missing."""
    if args.concurrency < 1:
        raise InvalidInputError("--concurrency must be at least 1")
    progress = None if args.quiet else ProgressLine(sys.stderr)
    subscribers = [progress] if progress is not None else []
    outcomes: list[PutOutcome] = []
    held_back: list[PutRequest] = []
    with _client(args) as client:
        outcomes += client.put_many(
            segments, max_concurrency=args.concurrency, subscribers=subscribers
        )
        if any(not o.ok for o in outcomes):
            held_back = manifests
        else:
            outcomes += client.put_many(
                manifests, max_concurrency=args.concurrency, subscribers=subscribers
            )
    if progress is not None:
        progress.finish()
    failed = [o for o in outcomes if not o.ok]
    sent = sum(o.result.bytes_sent for o in outcomes if o.result is not None)
    attempts = sum(o.attempts for o in outcomes)  # failed uploads were attempted too
    hints: list[str] = []
    for outcome in failed:
        print(f"mediastore-ingest: failed: {outcome.path}: {outcome.error}", file=sys.stderr)
        hint = hint_of(outcome.error)
        if hint is not None and hint not in hints:
            hints.append(hint)
    for hint in hints:  # each once, however many uploads it explains
        print(f"hint: {hint}", file=sys.stderr)
    if held_back:
        print(
            f"mediastore-ingest: held back {len(held_back)} manifest(s) because "
            f"{len(failed)} segment(s) failed: {', '.join(r.path for r in held_back)}",
            file=sys.stderr,
        )
    total = len(outcomes) + len(held_back)
    summary = (
        f"{total - len(failed) - len(held_back)} of {total} files uploaded, {sent} bytes, "
        f"{attempts} attempt{'' if attempts == 1 else 's'}, {len(failed)} failed"
    )
    if held_back:
        summary += f", {len(held_back)} held back"
    print(summary)
    return 1 if failed or held_back else 0


def _cmd_put(args: argparse.Namespace) -> int:
    items = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            raise InvalidInputError(f"not a file: {name}")
        items.append(PutRequest(_join(args.to, path.name), path))
    manifests = [i for i in items if is_manifest(i.path)]
    others = [i for i in items if not is_manifest(i.path)]
    return _run(args, others, manifests)


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _cmd_sync(args: argparse.Namespace) -> int:
    root = Path(args.directory)
    if not root.is_dir():
        raise InvalidInputError(f"not a directory: {args.directory}")
    if is_journal(root):
        # Uploading a journal's files as they are would put older versions over newer
        # ones; the relay replays it in order.
        raise InvalidInputError(
            f"{args.directory} is a relay journal, not a directory of media files: start "
            f"'mediastore-ingest relay --journal-dir {args.directory} ...' to upload what "
            "it holds, in order"
        )
    segments: list[PutRequest] = []
    manifests: list[PutRequest] = []
    for file in _walk(root):
        request = PutRequest(_join(args.to, file.relative_to(root).as_posix()), file)
        (manifests if is_manifest(request.path) else segments).append(request)
    return _run(args, segments, manifests)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--to", required=True, metavar="PREFIX", help="object path prefix, e.g. live/ch1"
    )
    p.add_argument(
        "--base-url",
        help="the ingest distribution (https://d1.cloudfront.net) or, with --direct, "
        "the container's data endpoint (or give --setup)",
    )
    p.add_argument(
        "--setup", metavar="FILE",
        help="setup JSON written by 'provision --out' (gives --base-url, --key-id and "
        "--origin)",
    )
    p.add_argument(
        "--origin", choices=origin_names(), default=None,
        help="what the distribution fronts: a MediaStore container (default) or an S3 "
        "bucket behind OAC (sends x-amz-content-sha256 on every PUT)",
    )
    p.add_argument("--key-id", help="CloudFront public key ID, upper-case (sign requests)")
    p.add_argument("--private-key", metavar="PEM", help="private key file (sign requests)")
    p.add_argument("--password-env", metavar="VAR", help="env variable holding the key password")
    add_kms_args(p, region=False)
    p.add_argument("--hash-algorithm", choices=("SHA1", "SHA256"),
                   help="signature hash (default SHA256, sent as Hash-Algorithm=SHA256; SHA1 "
                   "is CloudFront's legacy default)")
    p.add_argument(
        "--auth", choices=("url", "cookie"), default="url",
        help="signed URLs (default) or signed cookies with a wildcard policy",
    )
    p.add_argument("--url-expiry", type=int, default=300, metavar="SECONDS",
                   help="signature lifetime (default 300)")
    p.add_argument("--ca-bundle", metavar="PEM", help="extra CA certificates (local stack)")
    p.add_argument("--concurrency", type=int, default=8, metavar="N",
                   help="uploads in flight (default 8)")
    p.add_argument("--max-attempts", type=int, default=4, metavar="N",
                   help="tries per file including retries (default 4)")
    p.add_argument("--live-cache-control", action="store_true",
                   help="Cache-Control max-age=1 on manifests, one year on segments")
    p.add_argument("--direct", action="store_true",
                   help="talk to the container with botocore (SigV4, your AWS credentials)")
    p.add_argument("--region", help="AWS region for --direct and --kms-key-id")
    p.add_argument("--quiet", action="store_true", help="no progress line")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``put`` and ``sync``."""
    p = sub.add_parser(
        "put", help="upload files through the ingest distribution",
        description="Upload FILEs to PREFIX/<file name>; manifests (.m3u8/.mpd) go last, "
        "and only if every other file was uploaded. Prints a progress line on stderr and a "
        "summary; exit 1 if any upload failed or a manifest was held back.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="files to upload")
    _common(p)
    p.set_defaults(func=_cmd_put)

    p = sub.add_parser(
        "sync", help="upload every file of a directory (manifests last)",
        description="Upload every file under DIR to PREFIX/<relative path>; segments "
        "first, then manifests (.m3u8/.mpd), so a player never sees a manifest that "
        "names a missing segment: if any segment fails, the manifests are held back (not "
        "uploaded) and named on stderr. Exit 1 if any upload failed or a manifest was held "
        "back.",
    )
    p.add_argument("directory", metavar="DIR", help="directory to upload, recursively")
    _common(p)
    p.set_defaults(func=_cmd_sync)
