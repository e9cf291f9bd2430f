"""``container-policy``: print a MediaStore container policy, or lint one (``--check``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from mediastore_ingest.cli._common import env_value
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.iam.document import ContainerPolicy
from mediastore_ingest.iam.lint import Finding
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins.mediastore import ContainerPolicyBuilder

__all__ = ["register"]

_READ_ACTIONS = ["mediastore:GetObject", "mediastore:DescribeObject"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``container-policy`` subcommand."""
    p = subparsers.add_parser(
        "container-policy",
        help="print a container policy that lets only the ingest distribution write",
        description=(
            "Print a MediaStore container policy (indented JSON) on stdout and its lint "
            "findings on stderr, or lint an existing policy with --check. The account "
            "always keeps full access over HTTPS. Exit status 1 if a finding is an error."
        ),
    )
    p.add_argument("--region", help="AWS region of the container, e.g. us-west-2")
    p.add_argument("--account-id", metavar="ID", help="12-digit AWS account id")
    p.add_argument("--container", metavar="NAME", help="MediaStore container name")
    secret = p.add_mutually_exclusive_group()
    secret.add_argument(
        "--secret-env", metavar="VAR",
        help="environment variable holding the ingest secret (adds the CloudFront ingest "
        "statement: PutObject only with User-Agent MediaStore-Secret-<secret>)",
    )
    secret.add_argument(
        "--generate-secret", action="store_true",
        help="generate a new ingest secret; it is printed once on stderr",
    )
    p.add_argument(
        "--playback-secret-env", metavar="VAR",
        help="environment variable holding the playback distribution's secret "
        "(adds GetObject/DescribeObject gated by it)",
    )
    p.add_argument(
        "--public-read", action="store_true",
        help="let anyone GetObject/DescribeObject over HTTPS",
    )
    p.add_argument(
        "--oac-distribution-arn", metavar="ARN",
        help="allow CloudFront Origin Access Control for this distribution",
    )
    p.add_argument(
        "--oac-action", metavar="ACTION", action="append",
        help="action granted to the OAC distribution (repeatable; default "
        + ", ".join(_READ_ACTIONS) + ")",
    )
    p.add_argument(
        "--source-ip", metavar="CIDR", nargs="+", action="extend",
        help="also require aws:SourceIp in these ranges for ingest (behind CloudFront "
        "this is the edge's address, e.g. CloudFront's origin-facing ranges)",
    )
    p.add_argument(
        "--check", metavar="FILE",
        help="lint this policy file ('-' for stdin) instead of printing a new policy; "
        "--secret-env/--playback-secret-env name the secrets it should use",
    )
    p.set_defaults(func=_run)


def _secret_from_env(var: str) -> IngestSecret:
    value = env_value(var)
    assert value is not None  # var is always named here
    try:
        return IngestSecret(value)
    except InvalidInputError as exc:
        raise InvalidInputError(f"environment variable {var}: {exc}") from None


def report_findings(findings: Iterable[Finding], source: str | None = None) -> bool:
    """Print findings on stderr (or, for a checked ``source`` file, that there are
    none); True if any is an error."""
    errors = False
    seen = False
    for f in findings:
        seen = True
        errors = errors or f.severity == "error"
        print(f"{f.severity}: [{f.code}] {f.message}", file=sys.stderr)
    if source is not None and not seen:
        print(f"{source}: no findings", file=sys.stderr)
    return errors


def read_policy_text(path: str) -> str:
    """The policy text in file `path` (`-`: standard input)."""
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path} is not UTF-8 text") from exc
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _check(args: argparse.Namespace) -> int:
    building = [
        name for name, value in (
            ("--region", args.region), ("--account-id", args.account_id),
            ("--container", args.container), ("--generate-secret", args.generate_secret),
            ("--public-read", args.public_read),
            ("--oac-distribution-arn", args.oac_distribution_arn),
            ("--oac-action", args.oac_action), ("--source-ip", args.source_ip),
        ) if value
    ]
    if building:
        raise InvalidInputError(f"--check lints a file; it does not take {', '.join(building)}")
    policy = ContainerPolicy.from_json(read_policy_text(args.check))
    known = [_secret_from_env(v) for v in (args.secret_env, args.playback_secret_env) if v]
    findings = policy.findings(known_secrets=known or None)
    return 1 if report_findings(findings, args.check) else 0


def _run(args: argparse.Namespace) -> int:
    if args.check is not None:
        return _check(args)
    if not (args.region and args.account_id and args.container):
        raise InvalidInputError(
            "--region, --account-id and --container are required (or lint with --check FILE)"
        )
    builder = ContainerPolicyBuilder(
        region=args.region, account_id=args.account_id, container=args.container
    ).allow_account_full_access()
    if args.public_read:
        builder = builder.allow_public_read_over_https()
    secret: IngestSecret | None = None
    if args.generate_secret:
        secret = IngestSecret.generate()
    elif args.secret_env:
        secret = _secret_from_env(args.secret_env)
    if secret is not None:
        builder = builder.allow_cloudfront_ingest(secret, source_ips=args.source_ip)
    elif args.source_ip:
        raise InvalidInputError(
            "--source-ip restricts the ingest statement: add --secret-env or --generate-secret"
        )
    if args.playback_secret_env:
        builder = builder.allow_cloudfront_read(_secret_from_env(args.playback_secret_env))
    if args.oac_distribution_arn:
        builder = builder.allow_cloudfront_oac(
            args.oac_distribution_arn, actions=args.oac_action or _READ_ACTIONS
        )
    policy = builder.build()
    print(policy.to_json(indent=2))
    if args.generate_secret and secret is not None:
        print(
            "warning: a new ingest secret was generated. Store it now, it is not shown again; "
            "the ingest distribution must send it as the origin custom header "
            "User-Agent: MediaStore-Secret-<secret>\n"
            f"ingest secret: {secret.value}",
            file=sys.stderr,
        )
    return 1 if report_findings(policy.findings()) else 0
