"""``distribution-config`` and ``provision`` subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import botocore.session

from mediastore_ingest.cli._common import env_value
from mediastore_ingest.cli._kms import kms_public_key_pem
from mediastore_ingest.distribution import ingest_distribution_config, playback_distribution_config
from mediastore_ingest.errors import InvalidInputError, ProvisioningError
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins import origin_names
from mediastore_ingest.provisioning import (
    Provisioner,
    ProvisioningSpec,
    live_cors_rules,
    live_lifecycle_policy,
    secret_gated_container_policy,
)

__all__ = ["register"]


def _secret(var: str | None, *, what: str) -> IngestSecret | None:
    value = env_value(var, what)
    return None if value is None else IngestSecret(value)


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read the {what} {path!r}: {exc}") from exc


def _write_text(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot write {path!r}: {exc}") from exc


def _distribution_config(args: argparse.Namespace) -> int:
    role = "playback" if args.playback else "ingest"
    var = args.secret_env or (
        None if args.origin_access_control_id
        else "MEDIASTORE_PLAYBACK_SECRET" if args.playback else "MEDIASTORE_INGEST_SECRET"
    )
    secret = _secret(var, what=f"{role} secret")
    reference = args.caller_reference or f"mediastore-ingest:{args.origin_domain}:{role}"
    common: dict[str, Any] = {
        "origin_domain": args.origin_domain,
        "caller_reference": reference,
        "price_class": args.price_class,
        "origin_read_timeout": args.origin_read_timeout,
        "origin_keepalive_timeout": args.origin_keepalive_timeout,
        "origin_access_control_id": args.origin_access_control_id,
    }
    if args.comment is not None:
        common["comment"] = args.comment
    if args.playback:
        config = playback_distribution_config(
            secret=secret,
            key_group_id=args.key_group_id,
            ingest_secret=_secret(args.ingest_secret_env, what="ingest secret"),
            **common,
        )
    else:
        if not args.key_group_id:
            raise InvalidInputError("the ingest distribution needs --key-group-id")
        config = ingest_distribution_config(
            secret=secret, key_group_id=args.key_group_id, **common
        )
    print(json.dumps(config, indent=2))
    return 0


def _public_key_pem(args: argparse.Namespace) -> str:
    """--public-key's file, or the public key of the KMS key --kms-key-id."""
    if (args.public_key is None) == (args.kms_key_id is None):
        raise InvalidInputError("give --public-key or --kms-key-id (one of them)")
    if args.kms_key_id:
        session = botocore.session.Session(profile=args.profile)
        return kms_public_key_pem(args.kms_key_id, session, args.region, args.endpoint_url)
    return _read_text(args.public_key, "public key")


def _s3_spec(args: argparse.Namespace) -> ProvisioningSpec:
    mediastore_only = [
        name for name, value in (
            ("--container", args.container), ("--secret-env", args.secret_env),
            ("--playback-secret-env", args.playback_secret_env),
            ("--container-policy", args.container_policy), ("--account-id", args.account_id),
            ("--expire-seconds", args.expire_seconds), ("--cors-origin", args.cors_origin),
        ) if value
    ]
    if mediastore_only:
        raise InvalidInputError(
            f"{', '.join(mediastore_only)}: for MediaStore origins only, not with --origin s3"
        )
    if not args.bucket:
        raise InvalidInputError("--origin s3 needs --bucket")
    return ProvisioningSpec(
        origin="s3",
        bucket_name=args.bucket,
        public_key_pem=_public_key_pem(args),
        playback=not args.no_playback,
        playback_signed=args.signed_playback,
        expire_after_days=args.expire_days,
        expire_prefix=args.expire_prefix,
        origin_access_control_name=args.oac_name,
        deny_insecure_transport=not args.allow_insecure_transport,
        public_key_name=args.public_key_name,
        key_group_name=args.key_group_name,
        price_class=args.price_class,
    )


def _mediastore_spec(args: argparse.Namespace) -> ProvisioningSpec:
    s3_only = [
        name for name, value in (
            ("--bucket", args.bucket), ("--expire-days", args.expire_days),
            ("--expire-prefix", args.expire_prefix), ("--oac-name", args.oac_name),
            ("--allow-insecure-transport", args.allow_insecure_transport),
            ("--no-playback", args.no_playback),
        ) if value
    ]
    if s3_only:
        raise InvalidInputError(f"{', '.join(s3_only)}: only with --origin s3")
    if not args.container or not args.secret_env:
        raise InvalidInputError("a MediaStore origin needs --container and --secret-env")
    ingest = _secret(args.secret_env, what="ingest secret")
    assert ingest is not None
    playback = _secret(args.playback_secret_env, what="playback secret")
    if args.container_policy:
        policy: Any = _read_text(args.container_policy, "container policy")
    else:
        policy = secret_gated_container_policy(
            ingest_secret=ingest, playback_secret=playback, account_id=args.account_id
        )
    return ProvisioningSpec(
        container_name=args.container,
        public_key_pem=_public_key_pem(args),
        ingest_secret=ingest,
        playback=playback is not None,
        playback_secret=playback,
        playback_signed=args.signed_playback,
        container_policy=policy,
        lifecycle_policy=(
            live_lifecycle_policy(seconds=args.expire_seconds) if args.expire_seconds else None
        ),
        cors_rules=live_cors_rules(args.cors_origin) if args.cors_origin else None,
        public_key_name=args.public_key_name,
        key_group_name=args.key_group_name,
        price_class=args.price_class,
    )


#: How the command line describes what to provision, for each origin kind.
_SPECS: dict[str, Callable[[argparse.Namespace], ProvisioningSpec]] = {
    "mediastore": _mediastore_spec,
    "s3": _s3_spec,
}


_DRY_RUN_HINT = (
    "--dry-run reads the account (Describe/List/Get calls) to compare it with the plan: it "
    "needs AWS credentials with read permissions (--profile, AWS_PROFILE or the usual "
    "credential chain), though it changes nothing"
)


def _provision(args: argparse.Namespace) -> int:
    return _apply(args, _SPECS[args.origin](args))


def _apply(args: argparse.Namespace, spec: ProvisioningSpec) -> int:
    provisioner = Provisioner(
        botocore.session.Session(profile=args.profile),
        region=args.region,
        endpoint_url=args.endpoint_url,
    )
    if args.dry_run:
        try:
            plan = provisioner.plan(spec)
        except ProvisioningError as exc:
            exc.hint = exc.hint or _DRY_RUN_HINT
            raise
        print(plan)
        return 0
    plan, setup = provisioner.apply_with_plan(spec)
    # The setup refers to the secrets; it never holds them.
    setup = attrs.evolve(
        setup,
        ingest_secret_ref=f"env:{args.secret_env}" if args.secret_env else None,
        playback_secret_ref=(
            f"env:{args.playback_secret_env}" if args.playback_secret_env else None
        ),
    )
    print(plan)
    text = setup.to_json()
    if args.out:
        _write_text(args.out, text + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


def _add_price_class(p: argparse.ArgumentParser) -> None:
    p.add_argument("--price-class", default="PriceClass_All",
                   help="which edge locations serve: PriceClass_All (default), "
                        "PriceClass_200 or PriceClass_100")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``distribution-config`` and ``provision`` commands."""
    p = subparsers.add_parser(
        "distribution-config",
        help="print a CloudFront DistributionConfig (JSON) for the ingest or playback side",
        description=(
            "Print the DistributionConfig JSON that CloudFront's CreateDistribution "
            "accepts. The output contains the secret in the User-Agent origin header: "
            "treat it as a secret."
        ),
    )
    p.add_argument("--origin-domain", required=True,
                   help="origin host, e.g. abc123.data.mediastore.us-west-2.amazonaws.com")
    p.add_argument("--key-group-id", help="trusted key group (required for ingest)")
    p.add_argument("--playback", action="store_true",
                   help="the GET/HEAD playback distribution instead of ingest")
    p.add_argument("--secret-env", metavar="VAR",
                   help="environment variable holding the secret (default "
                        "MEDIASTORE_INGEST_SECRET, or MEDIASTORE_PLAYBACK_SECRET with --playback)")
    p.add_argument("--ingest-secret-env", metavar="VAR",
                   help="with --playback: check the playback secret differs from this one")
    p.add_argument("--caller-reference", metavar="TEXT",
                   help="CloudFront's idempotency token (default "
                        "mediastore-ingest:<origin domain>:<ingest|playback>)")
    p.add_argument("--comment", metavar="TEXT",
                   help="the distribution's comment (shown in the CloudFront console)")
    _add_price_class(p)
    p.add_argument("--origin-read-timeout", type=int, default=30, metavar="SECONDS",
                   help="how long CloudFront waits for the origin's answer (default 30)")
    p.add_argument("--origin-keepalive-timeout", type=int, default=5, metavar="SECONDS",
                   help="how long CloudFront keeps an idle origin connection, 1-60 "
                        "(default 5)")
    p.add_argument("--origin-access-control-id", metavar="ID",
                   help="sign origin requests with this Origin Access Control (required "
                        "for an S3 origin such as bucket.s3.us-west-2.amazonaws.com; the "
                        "secret is then optional)")
    p.set_defaults(func=_distribution_config)

    q = subparsers.add_parser(
        "provision",
        help="create or reuse the origin, key, key group and distributions",
        description=(
            "Idempotently provision a MediaStore container (or, with --origin s3, an S3 "
            "bucket behind an Origin Access Control), its policies, a CloudFront "
            "public key and key group, and the ingest (and playback) distributions. "
            "Prints the plan; --dry-run changes nothing."
        ),
    )
    q.add_argument("--region", required=True,
                   help="AWS region of the origin (the container or bucket), e.g. us-west-2")
    q.add_argument("--origin", choices=[n for n in origin_names() if n in _SPECS],
                   default="mediastore",
                   help="origin type (default mediastore)")
    q.add_argument("--container", help="MediaStore container name (--origin mediastore)")
    q.add_argument("--bucket", help="S3 bucket name (--origin s3)")
    q.add_argument("--public-key", metavar="PEM",
                   help="public key file (PEM SubjectPublicKeyInfo, RSA 2048 or ECDSA P-256)")
    q.add_argument("--kms-key-id", metavar="ARN",
                   help="register the public key of this AWS KMS key instead of --public-key "
                   "(read with kms:GetPublicKey, same credentials, Region and endpoint)")
    q.add_argument("--secret-env", metavar="VAR",
                   help="environment variable holding the ingest secret (MediaStore)")
    q.add_argument("--playback-secret-env", metavar="VAR",
                   help="environment variable holding the playback secret "
                        "(adds the playback distribution)")
    q.add_argument("--signed-playback", action="store_true",
                   help="playback also requires signed URLs/cookies")
    q.add_argument("--container-policy", metavar="FILE",
                   help="container policy JSON (default: account access + secret-gated "
                        "CloudFront ingest/playback)")
    q.add_argument("--account-id", help="AWS account id for the default policy "
                                        "(default: from the container ARN)")
    q.add_argument("--expire-seconds", type=int, metavar="N",
                   help="add a transient-data lifecycle rule expiring objects after N s")
    q.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                   help="allow browser GET/HEAD from ORIGIN (repeatable)")
    q.add_argument("--expire-days", type=int, metavar="N",
                   help="S3: lifecycle rule expiring objects N days after creation")
    q.add_argument("--expire-prefix", default="", metavar="PREFIX",
                   help="S3: expire only keys under PREFIX (default: all)")
    q.add_argument("--oac-name", metavar="NAME",
                   help="S3: Origin Access Control name (default <bucket>-oac)")
    q.add_argument("--allow-insecure-transport", action="store_true",
                   help="S3: leave out the bucket policy statement denying plain HTTP")
    q.add_argument("--no-playback", action="store_true",
                   help="S3: no playback distribution")
    q.add_argument("--public-key-name", metavar="NAME",
                   help="name of the CloudFront public key to create or reuse "
                        "(default <container or bucket>-ingest-key)")
    q.add_argument("--key-group-name", metavar="NAME",
                   help="name of the CloudFront key group to create or reuse "
                        "(default <container or bucket>-ingest)")
    _add_price_class(q)
    q.add_argument("--profile", help="botocore profile (default: the usual credential chain)")
    q.add_argument("--endpoint-url", help="endpoint override for every service (testing)")
    q.add_argument("--dry-run", action="store_true",
                   help="print the plan, change nothing (it reads the account, so it still "
                        "needs AWS credentials with read permissions)")
    q.add_argument("--out", metavar="FILE", help="write the IngestSetup JSON here")
    q.set_defaults(func=_provision)
