"""``local-stack`` subcommand: the local test stack on its own, until Ctrl-C.

It starts a [`LocalStack`][mediastore_ingest.testing.LocalStack] (a MediaStore
container, or with ``--origin s3`` an S3 bucket behind Origin Access Control, and two
edges), writes its signing key to a 0600 file, prints where everything is, and runs
until SIGINT or SIGTERM, so ffmpeg, curl and your own code can be pointed at it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from mediastore_ingest.cli._common import checked_key_id, until_stopped
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.origins import MEDIASTORE
from mediastore_ingest.signing.keys import generate_key_pair
from mediastore_ingest.testing import LocalStack

__all__ = ["register"]


def _key_file(args: argparse.Namespace) -> tuple[Path, str | None]:
    """Where the private key goes, and the temporary directory to remove after."""
    if args.key_out:
        path = Path(args.key_out)
        if os.path.lexists(path) and not args.force:
            raise InvalidInputError(f"--key-out {path} exists; pass --force to overwrite it")
        return path, None
    directory = tempfile.mkdtemp(prefix="mediastore-local-stack-")  # mode 0700
    return Path(directory) / "private_key.pem", directory


def _describe(stack: LocalStack, key_path: Path, origin: str) -> dict[str, str]:
    return {
        "origin": origin,
        "ingest_url": stack.ingest_base_url,
        "playback_url": stack.playback_base_url,
        "origin_endpoint": stack.origin_endpoint,
        "key_id": stack.key_id,
        "hash_algorithm": stack.signer.hash_algorithm,
        "private_key": str(key_path.resolve()),
        "ca_bundle": stack.ca_bundle,
    }


def _print_text(info: dict[str, str]) -> None:
    # The flag to repeat in the commands shown (the default origin needs none).
    origin_flag = "" if info["origin"] == MEDIASTORE.name else f" --origin {info['origin']}"
    lines = [
        f"local stack running ({info['origin']} origin); Ctrl-C stops it",
        f"ingest url:      {info['ingest_url']}",
        f"playback url:    {info['playback_url']}",
        f"origin endpoint: {info['origin_endpoint']}",
        f"key id:          {info['key_id']}",
        f"hash algorithm:  {info['hash_algorithm']}",
        f"private key:     {info['private_key']}",
        f"ca bundle:       {info['ca_bundle']}",
        "try:",
        f"  mediastore-ingest put seg1.ts --to live --base-url {info['ingest_url']} "
        f"--key-id {info['key_id']} --private-key {info['private_key']} "
        f"--hash-algorithm {info['hash_algorithm']}{origin_flag}",
        f"  mediastore-ingest relay --listen 127.0.0.1:8080 --to {info['ingest_url']} "
        f"--key-id {info['key_id']} --private-key {info['private_key']} "
        f"--hash-algorithm {info['hash_algorithm']}{origin_flag}   (then point ffmpeg at it)",
    ]
    print("\n".join(lines), flush=True)


def _cmd_local_stack(args: argparse.Namespace) -> int:
    if args.key_id:
        checked_key_id(args.key_id)
    key_path, temporary = _key_file(args)
    try:
        with until_stopped() as stop:
            pair = generate_key_pair(
                key_path, algorithm=args.key_algorithm, overwrite=args.force
            )
            stack = LocalStack(
                origin=args.origin,
                key_pair=pair,
                key_id=args.key_id,
                hash_algorithm=args.hash_algorithm,
                playback_signed=not args.unsigned_playback,
                edge_tls=args.edge_tls,
            )
            with stack:
                info = _describe(stack, key_path, args.origin)
                if args.json:
                    print(json.dumps(info), flush=True)
                else:
                    _print_text(info)
                stop.wait()
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    print("local stack stopped", file=sys.stderr, flush=True)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``local-stack``."""
    p = sub.add_parser(
        "local-stack",
        help="run the local test stack (origin and two edges on loopback) until Ctrl-C",
        description="Start the local stack: a MediaStore container (or, with --origin s3, "
        "an S3 bucket behind Origin Access Control) over HTTPS, an ingest edge that "
        "requires signed requests and a playback edge, on loopback. Print their URLs, the "
        "key id, the private key file (mode 0600) and the CA bundle, then run until "
        "SIGINT/SIGTERM (exit 0). Objects live in memory and go when it stops.",
    )
    p.add_argument("--origin", choices=("mediastore", "s3"), default="mediastore",
                   help="the origin behind the edges (default mediastore)")
    p.add_argument("--key-out", metavar="PATH",
                   help="write the private key here (default: a temporary file, removed "
                   "when the stack stops)")
    p.add_argument("--force", action="store_true", help="overwrite --key-out if it exists")
    p.add_argument("--key-id", help="the key id the edges trust (default: a new one)")
    p.add_argument("--key-algorithm", choices=("ecdsa", "rsa"), default="ecdsa",
                   help="ecdsa (P-256, default) or rsa (2048)")
    p.add_argument("--hash-algorithm", choices=("SHA1", "SHA256"), default="SHA256",
                   help="the hash the printed commands sign with (default SHA256; the "
                   "edges accept both)")
    p.add_argument("--unsigned-playback", action="store_true",
                   help="let the playback edge serve unsigned requests (for players)")
    p.add_argument("--edge-tls", action="store_true",
                   help="the edges speak HTTPS too (trust the printed CA bundle)")
    p.add_argument("--json", action="store_true",
                   help="print the URLs, key id and paths as one JSON object")
    p.set_defaults(func=_cmd_local_stack)
