"""``keygen`` and ``public-key`` subcommands."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

from mediastore_ingest.cli._common import env_value
from mediastore_ingest.cli._kms import add_kms_args, kms_signer
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.signing.keys import (
    PublicKey,
    generate_key_pair,
    key_fingerprint,
    load_private_key,
    load_public_key,
    public_key_pem,
)

__all__ = ["register"]


def _password(var: str | None, *, for_writing: bool) -> str | None:
    value = env_value(var)
    if value is None:
        return None
    if not value and for_writing:
        raise InvalidInputError(
            f"environment variable {var} is empty; an empty password would leave the "
            f"key unencrypted (omit --password-env for that)"
        )
    return value


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False))


_Command = Callable[[argparse.Namespace], int]


def _with_warnings(func: _Command) -> _Command:
    """Run ``func``; print each distinct warning it raised as one line on stderr."""

    def run(args: argparse.Namespace) -> int:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return func(args)
            finally:
                for message in dict.fromkeys(str(w.message) for w in caught):
                    print(f"mediastore-ingest: warning: {message}", file=sys.stderr)

    return run


def _cmd_keygen(args: argparse.Namespace) -> int:
    password = _password(args.password_env, for_writing=True)
    if not args.force:
        for path in (args.out, args.public_out):
            if os.path.lexists(path):
                raise InvalidInputError(f"{path} exists; pass --force to overwrite it")
    pair = generate_key_pair(
        args.out,
        args.public_out,
        algorithm=args.algorithm,
        rsa_bits=args.rsa_bits,
        password=password,
        overwrite=args.force,
    )
    fingerprint = pair.fingerprint()
    if args.json:
        _print_json(
            {
                "private_key_path": os.path.abspath(args.out),
                "public_key_path": os.path.abspath(args.public_out),
                "algorithm": pair.algorithm,
                "encrypted": password is not None,
                "fingerprint": fingerprint,
            }
        )
        return 0
    encrypted = "encrypted" if password is not None else "not encrypted"
    print(f"wrote private key {args.out} ({pair.algorithm}, PKCS#8 PEM, {encrypted}, mode 0600)")
    print(f"wrote public key  {args.public_out}")
    print(
        f"public key fingerprint (SHA-256 of the DER SubjectPublicKeyInfo): sha256:{fingerprint}"
    )
    print()
    print("next: upload the public key to CloudFront and put it in a key group, either with")
    print(f"  mediastore-ingest provision --public-key {args.public_out} "
          "--region REGION --container NAME --secret-env VAR")
    print("or with the AWS CLI:")
    print("  aws cloudfront create-public-key --public-key-config file://public-key-config.json")
    print(f"  (PublicKeyConfig: CallerReference, Name, and EncodedKey = the text of "
          f"{args.public_out}; 'mediastore-ingest public-key --json' prints it)")
    print(f"keep {args.out} secret: signing needs it and the public key ID that CloudFront "
          "returns (the Key-Pair-Id).")
    return 0


def _looks_public(path: str) -> bool:
    """Whether the file holds a public (not a private) key; unreadable files say no."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except (OSError, ValueError):
        return False  # the loader reports the problem
    return b"PUBLIC KEY-----" in head and b"PRIVATE KEY-----" not in head


def _cmd_public_key(args: argparse.Namespace) -> int:
    key: PublicKey
    if (args.key is None) == (args.kms_key_id is None):
        raise InvalidInputError("give PRIVATE_KEY or --kms-key-id (one of them)")
    if args.kms_key_id and args.password_env:
        raise InvalidInputError("--password-env is for key files, not KMS keys")
    kms = kms_signer(args)
    if kms is not None:
        key = kms.public_key()
    elif _looks_public(args.key):
        if args.password_env:
            raise InvalidInputError(f"{args.key} is a public key; it takes no password")
        key = load_public_key(args.key)
    else:
        private = load_private_key(
            args.key, password=_password(args.password_env, for_writing=False)
        )
        key = private.public_key()
    pem = public_key_pem(key)
    if args.json:
        _print_json({"EncodedKey": pem, "Fingerprint": key_fingerprint(key)})
    else:
        sys.stdout.write(pem)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``keygen`` and ``public-key``."""
    p = sub.add_parser(
        "keygen",
        help="generate a CloudFront signing key pair",
        description="Write a new private key (PKCS#8 PEM, mode 0600) and its public key "
        "(SubjectPublicKeyInfo PEM), then print the public key fingerprint and how to "
        "upload it. RSA 2048 is CloudFront's key-group default; ECDSA P-256 also works "
        "for key groups.",
    )
    p.add_argument(
        "--algorithm", choices=("rsa", "ecdsa"), default="rsa",
        help="rsa (default) or ecdsa (P-256)",
    )
    p.add_argument(
        "--rsa-bits", type=int, choices=(1024, 2048, 4096), default=2048,
        help="RSA key size (default 2048; 1024/4096 work with legacy key pairs only)",
    )
    p.add_argument(
        "--out", default="private_key.pem", metavar="PATH",
        help="private key file (default private_key.pem)",
    )
    p.add_argument(
        "--public-out", default="public_key.pem", metavar="PATH",
        help="public key file (default public_key.pem)",
    )
    p.add_argument(
        "--password-env", metavar="VAR",
        help="encrypt the private key with the password in this environment variable",
    )
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument("--json", action="store_true", help="print JSON with the paths and fingerprint")
    p.set_defaults(func=_with_warnings(_cmd_keygen))

    p = sub.add_parser(
        "public-key",
        help="print the public key of a private key, as CloudFront wants it",
        description="Print the SubjectPublicKeyInfo PEM of PRIVATE_KEY (or of the KMS key "
        "--kms-key-id): the EncodedKey of CloudFront's CreatePublicKey. With --json, print "
        "{\"EncodedKey\", \"Fingerprint\"}. A public key file is accepted too (to "
        "fingerprint it).",
    )
    p.add_argument(
        "key", metavar="PRIVATE_KEY", nargs="?", help="private key file (PEM or DER)"
    )
    add_kms_args(p)
    p.add_argument(
        "--password-env", metavar="VAR",
        help="read the private key's password from this environment variable",
    )
    p.add_argument(
        "--json", action="store_true",
        help="print JSON with EncodedKey and Fingerprint",
    )
    p.set_defaults(func=_with_warnings(_cmd_public_key))
