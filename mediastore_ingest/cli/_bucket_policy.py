"""``bucket-policy``: print an S3 bucket policy for Origin Access Control, or lint one."""

from __future__ import annotations

import argparse

from mediastore_ingest.cli._container_policy import read_policy_text, report_findings
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.origins.s3 import BucketPolicy, BucketPolicyBuilder

__all__ = ["register"]

_DEFAULT_INGEST_ACTIONS = ["s3:PutObject"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bucket-policy`` subcommand."""
    p = subparsers.add_parser(
        "bucket-policy",
        help="print an S3 bucket policy letting only the ingest distribution write (OAC)",
        description=(
            "Print an S3 bucket policy (indented JSON) on stdout and its lint findings "
            "on stderr, or lint an existing policy with --check. Writes are allowed only "
            "to the CloudFront service principal on behalf of the ingest distribution "
            "(AWS:SourceArn), reads only on behalf of the playback distribution. Exit "
            "status 1 if a finding is an error."
        ),
    )
    p.add_argument("--bucket", metavar="NAME", help="S3 bucket name")
    p.add_argument("--account-id", metavar="ID",
                   help="12-digit account id of the distributions (for bare ids)")
    p.add_argument("--ingest-distribution", metavar="ID_OR_ARN",
                   help="the ingest distribution (adds the write statement)")
    p.add_argument("--ingest-action", metavar="ACTION", action="append",
                   help="action granted to the ingest distribution (repeatable; default "
                   "s3:PutObject; add s3:DeleteObject and s3:GetObject as encoders need)")
    p.add_argument("--playback-distribution", metavar="ID_OR_ARN",
                   help="the playback distribution (adds s3:GetObject for it)")
    p.add_argument("--key-prefix", default="", metavar="PREFIX",
                   help="grant only keys under PREFIX (e.g. live/)")
    p.add_argument("--allow-insecure-transport", action="store_true",
                   help="leave out the statement denying requests over plain HTTP")
    p.add_argument("--check", metavar="FILE",
                   help="lint this policy file ('-' for stdin) instead of printing one; "
                   "--playback-distribution names the playback distribution's ARN")
    p.set_defaults(func=_run)


def _check(args: argparse.Namespace) -> int:
    building = [
        name for name, value in (
            ("--bucket", args.bucket), ("--account-id", args.account_id),
            ("--ingest-distribution", args.ingest_distribution),
            ("--ingest-action", args.ingest_action), ("--key-prefix", args.key_prefix),
            ("--allow-insecure-transport", args.allow_insecure_transport),
        ) if value
    ]
    if building:
        raise InvalidInputError(f"--check lints a file; it does not take {', '.join(building)}")
    policy = BucketPolicy.from_json(read_policy_text(args.check))
    playback = [args.playback_distribution] if args.playback_distribution else None
    findings = policy.findings(playback_distributions=playback)
    return 1 if report_findings(findings, args.check) else 0


def _run(args: argparse.Namespace) -> int:
    if args.check is not None:
        return _check(args)
    if not (args.bucket and args.account_id):
        raise InvalidInputError("--bucket and --account-id are required (or --check FILE)")
    if not (args.ingest_distribution or args.playback_distribution):
        raise InvalidInputError(
            "name --ingest-distribution and/or --playback-distribution"
        )
    builder = BucketPolicyBuilder(bucket=args.bucket, account_id=args.account_id)
    if args.ingest_distribution:
        builder = builder.allow_cloudfront_ingest(
            args.ingest_distribution,
            actions=args.ingest_action or _DEFAULT_INGEST_ACTIONS,
            key_prefix=args.key_prefix,
        )
    elif args.ingest_action:
        raise InvalidInputError("--ingest-action needs --ingest-distribution")
    if args.playback_distribution:
        builder = builder.allow_cloudfront_read(
            args.playback_distribution, key_prefix=args.key_prefix
        )
    if not args.allow_insecure_transport:
        builder = builder.deny_insecure_transport()
    policy = builder.build()
    print(policy.to_json(indent=2))
    return 1 if report_findings(policy.findings()) else 0
