"""``sign-url``, ``sign-cookies`` and ``verify`` subcommands."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import shlex
import sys
import time
from typing import Any

from mediastore_ingest._internal.show import shown
from mediastore_ingest.cli._kms import add_kms_args, url_signer
from mediastore_ingest.errors import InvalidInputError, VerificationError
from mediastore_ingest.signing.policy import CannedPolicy, CustomPolicy, Policy
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.signing.verifier import UrlVerifier

__all__ = ["parse_time", "register"]

# ASCII digits only, at most 9 per unit (10**9 days is 2.7 million years): longer is a typo
_DURATION = re.compile(
    r"\+(?:([0-9]{1,9})d)?(?:([0-9]{1,9})h)?(?:([0-9]{1,9})m)?(?:([0-9]{1,9})s)?\Z"
)
# epoch seconds: 12 digits reach past the year 9999
_EPOCH_DIGITS = 12


def parse_time(text: str, *, now: float | None = None) -> int:
    """Epoch seconds from ``+1d2h3m4s`` (relative to now), ISO-8601 with a zone
    (``2026-01-01T00:00:00Z``) or plain epoch seconds."""
    if not isinstance(text, str):
        raise InvalidInputError(f"a time must be a str, not {type(text).__name__}")
    text = text.strip()
    if text.startswith("+"):
        m = _DURATION.match(text)
        if not m or not any(m.groups()):
            raise InvalidInputError(
                f"bad duration {shown(text)}; use e.g. +30s, +10m, +6h, +1d12h"
            )
        d, h, mi, s = (int(g or 0) for g in m.groups())
        base = time.time() if now is None else now
        if isinstance(base, bool) or not isinstance(base, (int, float)) or not math.isfinite(
            base
        ):
            raise InvalidInputError(f"now must be finite epoch seconds, not {now!r}")
        return int(base) + ((d * 24 + h) * 60 + mi) * 60 + s
    if text.isascii() and text.isdigit():
        if len(text) > _EPOCH_DIGITS:
            raise InvalidInputError(
                f"bad time {shown(text)}: epoch seconds have at most {_EPOCH_DIGITS} digits"
            )
        return int(text)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInputError(
            f"bad time {shown(text)}; use ISO-8601 with a zone, epoch seconds or +10m"
        ) from exc
    if when.tzinfo is None:
        raise InvalidInputError(f"time {shown(text)} has no zone; add Z or +HH:MM")
    return int(when.timestamp())


def _signer(args: argparse.Namespace) -> UrlSigner:
    signer = url_signer(args, args.key_id)
    if signer is None:
        raise InvalidInputError("give --private-key or --kms-key-id")
    return signer


def _add_signer_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key-id", required=True, help="CloudFront public key ID (Key-Pair-Id)")
    p.add_argument("--private-key", metavar="PEM", help="private key file")
    p.add_argument(
        "--password-env", metavar="VAR", help="read the key's password from this env variable"
    )
    add_kms_args(p)
    p.add_argument(
        "--hash-algorithm", choices=("SHA1", "SHA256"),
        help="signature hash (default SHA256, which CloudFront takes since 2026-04; SHA1 only "
        "for a verifier that knows nothing else)",
    )


def _policy_from(args: argparse.Namespace, resource: str) -> Policy:
    expires = parse_time(args.expires)
    not_before = parse_time(args.not_before) if args.not_before else None
    # A '*' in the query is a literal character (RFC 5987's filename*=), not a wildcard.
    wildcard = "*" in resource.partition("?")[0]
    if not_before is None and args.source_ip is None and not wildcard and not args.custom:
        return CannedPolicy(resource, expires)
    return CustomPolicy(resource, expires, not_before=not_before, source_ip=args.source_ip)


def _add_policy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--expires", required=True,
        help="when the signature expires: +10m, +6h, 2026-01-01T00:00:00Z or epoch seconds",
    )
    p.add_argument("--not-before", help="start of validity (custom policy)")
    p.add_argument("--source-ip", metavar="CIDR", help="IPv4 address or range (custom policy)")
    p.add_argument(
        "--custom", action="store_true", help="use a custom policy even if canned would do"
    )


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False))


def _cmd_sign_url(args: argparse.Namespace) -> int:
    signer = _signer(args)
    resource = args.policy_resource or args.url
    policy = _policy_from(args, resource)
    if isinstance(policy, CannedPolicy) and args.policy_resource is None:
        signed = signer.sign_url(args.url, expires=policy.expires)
    else:
        if isinstance(policy, CannedPolicy):
            policy = CustomPolicy(policy.resource, policy.expires)
        signed = signer.sign_url(args.url, policy=policy)
    if args.json:
        _print_json({"url": signed, "policy": json.loads(policy.to_json()),
                     "key_id": signer.key_id, "hash_algorithm": signer.hash_algorithm})
    else:
        print(signed)
    return 0


def _quote_gst(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cmd_sign_cookies(args: argparse.Namespace) -> int:
    signer = _signer(args)
    policy = _policy_from(args, args.resource)
    cookies = signer.sign_cookies(policy)
    header = signer.cookie_header(policy)
    fmt = args.format
    if fmt == "json":
        _print_json({"cookies": cookies, "cookie_header": header,
                     "policy": json.loads(policy.to_json())})
    elif fmt == "header":
        print(header)
    elif fmt == "set-cookie":
        for line in signer.set_cookie_headers(policy, domain=args.domain, path=args.path):
            print(f"Set-Cookie: {line}")
    elif fmt == "ffmpeg":
        # ffmpeg's -headers takes CRLF-terminated lines; $'...' makes the shell send them.
        # The hls muxer and plain http outputs honour it; the dash muxer ignores it.
        print("-headers " + "$'Cookie: " + header.replace("'", "\\'") + "\\r\\n'")
    elif fmt == "ffmpeg-dash":
        # The dash muxer passes only -http_opts to its HTTP requests: a dictionary whose
        # value is quoted ('...') for ffmpeg, inside $'...' for the shell.
        print("-http_opts " + "$'headers=\\'Cookie: " + header + "\\r\\n\\''")
    elif fmt == "curl":
        print("-H " + shlex.quote(f"Cookie: {header}"))
    else:  # gstreamer souphttpclientsink / curlhttpsink extra-headers
        print("extra-headers=" + shlex.quote(f"extra-headers,Cookie={_quote_gst(header)}"))
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    keys: dict[str, str] = {}
    for item in args.public_key:
        kid, eq, path = item.partition("=")
        if not eq:
            raise InvalidInputError(f"--public-key takes KEY_ID=PATH, not {item!r}")
        keys[kid] = path
    verifier = UrlVerifier(keys)
    now = parse_time(args.now) if args.now else None
    try:
        if args.cookie:
            policy = verifier.verify_cookies(
                args.url, args.cookie, now=now, client_ip=args.client_ip
            )
        else:
            policy = verifier.verify_url(args.url, now=now, client_ip=args.client_ip)
    except VerificationError as exc:
        if args.json:
            _print_json({"valid": False, "error": type(exc).__name__, "reason": str(exc)})
        else:
            print(f"INVALID ({type(exc).__name__}): {exc}", file=sys.stderr)
        return 1
    if args.json:
        _print_json({"valid": True, "policy": json.loads(policy.to_json())})
    else:
        print(f"valid: {policy.to_json()}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sign-url``, ``sign-cookies`` and ``verify``."""
    p = sub.add_parser(
        "sign-url", help="sign a CloudFront URL (canned or custom policy)",
        description="Print URL signed for CloudFront. A canned policy is used unless a "
        "wildcard, --policy-resource, --not-before, --source-ip or --custom asks for a custom one.",
    )
    p.add_argument("url", help="the URL to sign, as it will be requested")
    p.add_argument("--policy-resource", help="sign a wildcard resource (e.g. https://d/live/*)")
    _add_policy_args(p)
    _add_signer_args(p)
    p.add_argument("--json", action="store_true", help="print JSON with the URL and policy")
    p.set_defaults(func=_cmd_sign_url)

    p = sub.add_parser(
        "sign-cookies", help="make CloudFront signed cookies (for encoders that cannot sign)",
        description="Print signed cookies for a (usually wildcard) resource, in a form "
        "ready for ffmpeg, curl, GStreamer, a Set-Cookie response, or JSON.",
    )
    p.add_argument("--resource", required=True, help="e.g. 'https://d1.cloudfront.net/live/*'")
    _add_policy_args(p)
    _add_signer_args(p)
    p.add_argument(
        "--format",
        choices=("header", "ffmpeg", "ffmpeg-dash", "curl", "gstreamer", "set-cookie", "json"),
        default="header",
        help="output form (default: the Cookie header value); ffmpeg: -headers for the hls "
        "muxer and plain http outputs; ffmpeg-dash: -http_opts for the dash muxer, which "
        "ignores -headers",
    )
    p.add_argument("--domain", help="Domain attribute for --format set-cookie")
    p.add_argument("--path", default="/", help="Path attribute for --format set-cookie")
    p.set_defaults(func=_cmd_sign_cookies)

    p = sub.add_parser(
        "verify", help="check a signed URL or cookies as CloudFront would",
        description="Exit 0 and print the policy if valid; exit 1 with the reason if not.",
    )
    p.add_argument("url", help="the signed URL (or the plain URL with --cookie)")
    p.add_argument(
        "--public-key", action="append", required=True, metavar="KEY_ID=PEM",
        help="a trusted public key (repeat for a key group)",
    )
    p.add_argument("--cookie", help="a Cookie header value carrying CloudFront-* cookies")
    p.add_argument("--now", help="check at this time instead of now")
    p.add_argument("--client-ip", help="the viewer address, for policies with AWS:SourceIp")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_verify)
