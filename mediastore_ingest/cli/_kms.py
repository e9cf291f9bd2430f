"""``--kms-key-id``: the options and helpers of the commands that sign with a KMS key.

``sign-url``, ``sign-cookies``, ``put``, ``sync`` and ``relay`` take ``--kms-key-id
ARN`` in place of ``--private-key``; ``public-key --kms-key-id`` prints the key's PEM
for CloudFront and ``provision --kms-key-id`` registers it in the key group. The KMS
client is botocore's: credentials, profile and Region come from the usual chain
(``AWS_PROFILE``, ``AWS_REGION``...) unless ``--region`` is given;
``--kms-endpoint-url`` (or botocore's ``AWS_ENDPOINT_URL_KMS``) points it at a VPC
endpoint or a local emulator.
"""

from __future__ import annotations

import argparse

from mediastore_ingest.cli._common import checked_key_id, env_value
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.signing.kms import KmsSigner
from mediastore_ingest.signing.signer import UrlSigner

__all__ = ["add_kms_args", "kms_public_key_pem", "kms_signer", "url_signer"]


def add_kms_args(p: argparse.ArgumentParser, *, region: bool = True) -> None:
    """Add ``--kms-key-id`` and ``--kms-endpoint-url`` (and ``--region`` unless the
    command has one already)."""
    p.add_argument(
        "--kms-key-id", metavar="ARN",
        help="sign with this AWS KMS key (RSA_2048 or ECC_NIST_P256, SIGN_VERIFY) instead "
        "of --private-key; signatures are SHA-256",
    )
    p.add_argument(
        "--kms-endpoint-url", metavar="URL",
        help="KMS endpoint (a VPC endpoint or a local emulator; default: botocore's)",
    )
    if region:
        p.add_argument("--region", help="AWS Region of the KMS key (default: botocore's)")


def kms_signer(args: argparse.Namespace) -> KmsSigner | None:
    """The `KmsSigner` of ``--kms-key-id``, or ``None`` without one."""
    if not args.kms_key_id:
        if args.kms_endpoint_url:
            raise InvalidInputError("--kms-endpoint-url goes with --kms-key-id")
        return None
    return KmsSigner(
        args.kms_key_id, region_name=args.region, endpoint_url=args.kms_endpoint_url
    )


def kms_public_key_pem(
    key_id: str, session: object, region: str | None, endpoint_url: str | None
) -> str:
    """The CloudFront PEM of a KMS key, read through ``session`` (``provision``)."""
    return KmsSigner(
        key_id, session=session, region_name=region, endpoint_url=endpoint_url
    ).public_key_pem()


def url_signer(
    args: argparse.Namespace, key_id: str | None, *, key_id_flag: str = "--key-id"
) -> UrlSigner | None:
    """The signer of ``key_id`` with ``--private-key`` or ``--kms-key-id`` (``None``
    with neither and no key id); ``--hash-algorithm`` defaults to SHA256."""
    if args.private_key and args.kms_key_id:
        raise InvalidInputError("give --private-key or --kms-key-id, not both")
    has_key = bool(args.private_key or args.kms_key_id)
    if not has_key and not key_id:
        return None
    if not has_key or not key_id:
        raise InvalidInputError(f"{key_id_flag} and --private-key (or --kms-key-id) go together")
    password = env_value(getattr(args, "password_env", None), "key password")
    if password is not None and args.kms_key_id:
        raise InvalidInputError("--password-env is for --private-key files, not KMS keys")
    key_id = checked_key_id(key_id, key_id_flag)  # before KMS is asked anything
    key = kms_signer(args) or args.private_key
    return UrlSigner(key_id, key, hash_algorithm=args.hash_algorithm, password=password)
