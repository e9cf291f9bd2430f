"""The ``mediastore-ingest`` command.

Each subcommand lives in a module of this package that exposes
``register(subparsers) -> None``; the module adds its parser and sets
``func=`` to a callable taking the parsed namespace and returning an exit code.
Errors from this package are printed as one line on stderr with exit code 2
(bad input) or 1 (anything else), followed by a ``hint:`` line when the error has a
hint; no traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from mediastore_ingest import __version__
from mediastore_ingest.cli._common import hint_of
from mediastore_ingest.errors import MediaStoreIngestError

__all__ = ["build_parser", "main"]

# Subcommand modules, in the order their commands appear in --help.
_COMMAND_MODULES: tuple[str, ...] = (
    "._demo",
    "._keys",
    "._sign",
    "._provision",
    "._container_policy",
    "._bucket_policy",
    "._put",
    "._relay",
    "._probe",
    "._local_stack",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="mediastore-ingest",
        description=(
            "Sign, provision and push live HLS/DASH media into an AWS origin "
            "through a CloudFront ingest distribution."
        ),
    )
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks on errors"
    )
    parser.add_argument(
        "--version", action="version", version=f"mediastore-ingest {__version__}",
        help="print the version and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        module = importlib.import_module(name, __name__)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # surface a closed pipe here, not at interpreter exit
    except MediaStoreIngestError as exc:
        if args.debug:
            raise
        kind = 2 if isinstance(exc, ValueError) else 1
        print(f"mediastore-ingest: error: {exc}", file=sys.stderr)
        hint = hint_of(exc)
        if hint is not None:
            print(f"hint: {hint}", file=sys.stderr)
        return kind
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `mediastore-ingest … | head`: the reader left; exit quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
