"""``demo``: the whole signed-ingest workflow on a local stack, no AWS account needed.

Generates a key and two secrets, shows the container-policy lint catching the
classic mistake (a public write without the secret), builds the real policy, starts
an HTTPS container and two CloudFront-like edges on loopback, pushes a short live
HLS stream through the ingest edge with signed URLs, reads it back through the
playback edge and compares SHA-256, then shows that unsigned, expired, tampered,
wrong-key and wrong-secret requests are refused. Each step prints ✓ or ✗; the exit
status is 0 only if every step behaved.

``--origin s3`` tells the same story onto MediaStore's successor: an HTTPS S3 bucket
behind edges signing with Origin Access Control, a bucket policy letting only the
ingest distribution write and only the playback distribution read, uploads carrying
``x-amz-content-sha256``; it shows that a public-write bucket policy is linted, and
that a direct unsigned PUT, a write signed as the playback distribution, a wrong
``x-amz-content-sha256`` and a chunked PUT are refused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import urllib3

from mediastore_ingest.errors import InvalidInputError, MediaStoreIngestError
from mediastore_ingest.iam.document import Condition as PolicyCondition
from mediastore_ingest.iam.document import (
    ContainerPolicy,
    Principal,
    Statement,
)
from mediastore_ingest.iam.lint import Finding
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins import origin_names
from mediastore_ingest.origins.mediastore import ContainerPolicyBuilder
from mediastore_ingest.origins.s3 import BucketPolicy, s3_object_arn
from mediastore_ingest.signing.keys import KeyPair, generate_key_pair, new_key_id
from mediastore_ingest.signing.signer import UrlSigner

if TYPE_CHECKING:
    from mediastore_ingest.ingest import IngestClient, IngestConfig, PutResult
    from mediastore_ingest.testing import LocalStack

__all__ = ["register"]

_REGION, _ACCOUNT, _CONTAINER = "us-west-2", "111122223333", "live"
_BUCKET = "live-origin"
_STREAM = "live/demo"
_WINDOW = 4  # segments in the rolling playlist
_FORGED = "live/forged.ts"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo",
        help="run the whole signed-ingest workflow locally (no AWS account needed)",
        description=(
            "Generate a key, secrets and a container policy; start a local HTTPS "
            "container and CloudFront-like ingest and playback edges on 127.0.0.1; push "
            "a short live HLS stream with signed URLs, read it back and compare; show "
            "that unsigned, expired, tampered, wrong-key and wrong-secret requests are "
            "refused. --origin s3 does the same onto an S3 bucket behind Origin Access "
            "Control. Exit status 0 only if every step behaved."
        ),
    )
    p.add_argument("--segments", type=int, default=6, metavar="N",
                   help="number of media segments to push (1-60, default 6)")
    p.add_argument("--no-ffmpeg", action="store_true",
                   help="use synthetic TS-like segments even if ffmpeg is on PATH")
    p.add_argument("--json", action="store_true", help="print a machine-readable report")
    p.add_argument("--keep", metavar="DIR",
                   help="write the key pair, key id and policies into DIR (created if "
                   "needed; policy files hold the secrets and are mode 0600)")
    p.add_argument("--key-algorithm", choices=("ecdsa", "rsa"), default="ecdsa",
                   help="signing key type (default ecdsa: P-256)")
    p.add_argument("--origin", choices=_demo_origins(), default="mediastore",
                   help="origin behind the edges: a MediaStore container reached with a "
                   "secret header (default), or an S3 bucket behind Origin Access Control "
                   "(MediaStore's successor)")
    p.add_argument("--geography", metavar="NAME",
                   help="instead: time the same segments direct and through the edge on "
                   "long links modelling NAME (e.g. sao-paulo-us-west-2; see "
                   "docs/guides/acceleration.md) and print each beside the floor")
    p.set_defaults(func=_run)


# --- the report ------------------------------------------------------------------------


@attrs.frozen
class Step:
    """One numbered step of the demo and whether it behaved."""

    number: int
    title: str
    ok: bool
    detail: str


class _Report:
    def __init__(self, *, quiet: bool) -> None:
        self.steps: list[Step] = []
        self.quiet = quiet
        try:
            "✓✗—".encode(sys.stdout.encoding or "ascii")
            self.marks = ("✓", "✗")
        except (UnicodeEncodeError, LookupError):
            self.marks = ("OK", "FAIL")

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)

    def add(self, title: str, ok: bool, detail: str) -> Step:
        step = Step(len(self.steps) + 1, title, ok, detail)
        self.steps.append(step)
        mark = self.marks[0] if ok else self.marks[1]
        self.say(f"{step.number:>2}. {mark} {title}")
        for line in detail.splitlines():
            self.say(f"      {line}")
        return step

    def run(self, title: str, action: Callable[[], tuple[bool, str]]) -> bool:
        """Run a step; an error of this package, urllib3 or the OS marks it failed."""
        try:
            ok, detail = action()
        except (MediaStoreIngestError, urllib3.exceptions.HTTPError, OSError) as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        return self.add(title, ok, detail).ok

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)


# --- media -----------------------------------------------------------------------------


@attrs.frozen
class _Segment:
    name: str
    data: bytes = attrs.field(repr=False)
    duration: float


def _synthetic_segments(count: int, rng: random.Random) -> list[_Segment]:
    """TS-like segments: 188-byte packets with a sync byte, a PID and a counter."""
    segments = []
    for index in range(count):
        packets = bytearray()
        for cc in range(200):
            header = bytes([0x47, 0x41 if cc == 0 else 0x01, 0x00, 0x10 | (cc & 0x0F)])
            packets += header + rng.randbytes(184)
        segments.append(_Segment(f"seg{index:03d}.ts", bytes(packets), 1.0))
    return segments


def _ffmpeg_segments(ffmpeg: str, count: int, workdir: Path) -> list[_Segment]:
    """Real MPEG-TS segments from ffmpeg's test pattern (1 s each)."""
    playlist = workdir / "ffmpeg.m3u8"
    command = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", f"testsrc=size=320x180:rate=25:duration={count}",
        "-c:v", "mpeg2video", "-g", "25", "-f", "hls", "-hls_time", "1",
        "-hls_list_size", "0", "-hls_segment_filename", str(workdir / "seg%03d.ts"),
        str(playlist),
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=20)
        text = playlist.read_text()
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"ffmpeg did not produce HLS output: {exc}") from exc
    segments, duration = [], 1.0
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            try:
                duration = float(line[8:].split(",", 1)[0])
            except ValueError:
                duration = 1.0
        elif line and not line.startswith("#"):
            try:
                data = (workdir / line).read_bytes()
            except OSError as exc:
                raise InvalidInputError(f"ffmpeg's playlist names a missing file {line}") from exc
            segments.append(_Segment(line, data, duration))
    if not segments:
        raise InvalidInputError("ffmpeg's playlist lists no segment")
    return segments[:count]


def _rolling_playlist(segments: list[_Segment], upto: int, *, ended: bool) -> bytes:
    """A live HLS media playlist holding the last few segments up to ``upto``."""
    first = max(0, upto + 1 - _WINDOW)
    window = segments[first : upto + 1]
    target = max(1, round(max(s.duration for s in window) + 0.499))
    lines = [
        "#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
    ]
    for segment in window:
        lines += [f"#EXTINF:{segment.duration:.3f},", segment.name]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return ("\n".join(lines) + "\n").encode()


# --- helpers ---------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _error_code(response: urllib3.BaseHTTPResponse) -> str:
    text = response.data[:2048].decode("utf-8", "replace")
    match = re.search(r"<Code>([^<]+)</Code>", text) or re.search(
        r'"__type"\s*:\s*"([^"]+)"', text
    )
    return match.group(1) if match else "-"


def _masked(secret: IngestSecret) -> str:
    return f"MediaStore-Secret-{secret.value[:3]}… ({len(secret.value)} characters, not shown)"


def _describe_findings(findings: tuple[Finding, ...]) -> str:
    if not findings:
        return "lint: no findings"
    return "\n".join(f"lint {f.severity}: [{f.code}] {f.message}" for f in findings)


def _insecure_policy(builder: ContainerPolicyBuilder) -> ContainerPolicy:
    """The seed's intermediate policy: anyone may PutObject over HTTPS, no secret."""
    public_write = Statement(
        sid="PublicWriteOverHttps",
        effect="Allow",
        principal=Principal.anyone(),
        actions=("mediastore:PutObject",),
        resources=(builder.resource,),
        conditions=(PolicyCondition("Bool", "aws:SecureTransport", ("true",)),),
    )
    base = builder.allow_account_full_access()
    return ContainerPolicy(statements=(*base.statements, public_write))


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


# --- the workflow ----------------------------------------------------------------------


def _keep_dir(name: str) -> Path:
    """The --keep directory, created if needed; a one-line error if it cannot be."""
    keep = Path(name)
    try:
        keep.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"--keep {name}: cannot create the directory: {exc}") from exc
    if not os.access(keep, os.W_OK | os.X_OK):
        raise InvalidInputError(f"--keep {name}: the directory is not writable")
    return keep


def _run(args: argparse.Namespace) -> int:
    if args.geography is not None:
        from mediastore_ingest.cli._geography import run_geography

        return run_geography(args)
    if not 1 <= args.segments <= 60:
        raise InvalidInputError("--segments must be between 1 and 60")
    keep = _keep_dir(args.keep) if args.keep else None
    started = time.monotonic()
    report = _Report(quiet=args.json)
    media_source = "synthetic"
    with ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="msi-demo-")))
        media_source = _WORKFLOWS[args.origin](args, report, cleanup, workdir, keep)
    elapsed = time.monotonic() - started
    failed = [s for s in report.steps if not s.ok]
    if args.json:
        print(json.dumps({
            "ok": report.ok,
            "origin": args.origin,
            "steps": [attrs.asdict(s) for s in report.steps],
            "media_source": media_source,
            "elapsed_seconds": round(elapsed, 3),
        }, indent=2, ensure_ascii=False))
    elif failed:
        report.say(
            f"\n{len(failed)} of {len(report.steps)} steps did NOT behave as expected "
            f"(steps {', '.join(str(s.number) for s in failed)}); {elapsed:.1f} s."
        )
    else:
        report.say(f"\nAll {len(report.steps)} steps behaved as expected in {elapsed:.1f} s.")
    return 0 if report.ok else 1


def _workflow_mediastore(
    args: argparse.Namespace,
    report: _Report,
    cleanup: ExitStack,
    workdir: Path,
    keep: Path | None,
) -> str:
    from mediastore_ingest.ingest import IngestClient, IngestConfig
    from mediastore_ingest.testing import DEFAULT_INGEST_ACTIONS, LocalStack

    report.say("mediastore-ingest demo: signed live ingest through a CloudFront-like edge,"
               " all on 127.0.0.1\n")

    # 1. the signing key
    pair, key_id = _signing_key(args, report, keep)

    # 2. the secrets
    secret, playback_secret = IngestSecret.generate(), IngestSecret.generate()
    report.add(
        "Generate the ingest secret and a different playback secret",
        secret != playback_secret,
        f"ingest edge → origin: User-Agent {_masked(secret)}\n"
        f"playback edge → origin: its own secret, so a leaked playback secret cannot write",
    )

    # 3. the seed's insecure intermediate policy, caught by the lint
    builder = ContainerPolicyBuilder(region=_REGION, account_id=_ACCOUNT, container=_CONTAINER)
    insecure = _insecure_policy(builder)
    bad = insecure.findings()
    caught = any(f.code == "public-write" and f.severity == "error" for f in bad)
    if keep is not None:
        (keep / "insecure_policy.json").write_text(insecure.to_json(indent=2) + "\n")
    report.add(
        "Lint catches the insecure intermediate policy (public PutObject without the secret)",
        caught,
        _describe_findings(bad),
    )

    # 4. the real policy
    policy = (
        builder.allow_account_full_access()
        .allow_cloudfront_ingest(secret, actions=DEFAULT_INGEST_ACTIONS)
        .allow_cloudfront_read(playback_secret)
        .build()
    )
    findings = policy.findings(known_secrets=[secret, playback_secret])
    if keep is not None:
        _write_private(keep / "container_policy.json", policy.to_json(indent=2) + "\n")
    report.add(
        "Build the container policy: account + CloudFront ingest (secret) + playback "
        "(its secret)",
        not any(f.severity == "error" for f in findings),
        "statements: " + ", ".join(st.sid or "?" for st in policy.statements)
        + f"; {len(policy.to_json())} of 8192 characters\n" + _describe_findings(findings),
    )

    # 5. the local stack
    stack = LocalStack(key_pair=pair, key_id=key_id, secret=secret,
                       playback_secret=playback_secret, ingest_actions=DEFAULT_INGEST_ACTIONS)
    cleanup.enter_context(stack)
    report.add(
        "Start the container (HTTPS) and the ingest and playback edges",
        stack.container_policy == policy,
        f"container  {stack.container_endpoint}  (enforces the policy above)\n"
        f"ingest     {stack.ingest_base_url}  (all methods, signed, adds the secret)\n"
        f"playback   {stack.playback_base_url}  (GET/HEAD, signed, its own secret)",
    )

    # 6. the media
    segments, source = _media(args, report, workdir)

    # 7. push through the ingest edge
    config = IngestConfig(ca_bundle=stack.ca_bundle)
    ingest = cleanup.enter_context(IngestClient(
        stack.ingest_base_url, signer=stack.signer, url_expiry=dt.timedelta(minutes=5),
        config=config,
    ))
    sent: dict[str, str] = {}

    def content_sha256_matches(path: str, data: bytes, result: PutResult) -> bool:
        return result.content_sha256 in (None, _sha(data))

    report.run(
        "Push the stream through the ingest edge with signed URLs",
        _pusher(ingest, segments, sent, stack.ingest_base_url, content_sha256_matches,
                "the origin's ContentSHA256 matched every segment"),
    )

    # 8. what the origin saw
    def origin_view() -> tuple[bool, str]:
        seen = stack.container.requests
        puts = [r for r in seen if r.method == "PUT"]
        agents = {r.user_agent for r in puts}
        leaked = any(config.user_agent in value for r in seen for _, value in r.headers)
        stored = {path: _sha(stack.container.read(path)) for path in sent
                  if path in stack.container.paths()}
        https = all(r.tls for r in puts)
        ok = bool(puts) and https and agents == {secret.user_agent} and not leaked
        ok = ok and stored == sent
        lines = [
            f"{len(puts)} PUTs reached the origin, all over HTTPS with User-Agent "
            f"{_masked(secret)}" if agents == {secret.user_agent} and puts and https else
            f"the origin saw {len(puts)} PUTs with {len(agents)} other User-Agent value(s)",
            f"the encoder's own User-Agent ({config.user_agent}) "
            + ("REACHED the origin" if leaked else "never reached it"),
            f"{len(stored)} of {len(sent)} objects stored with exactly the bytes sent",
        ]
        return ok, "\n".join(lines)

    report.run("The origin stored exactly what was sent, and only via the secret", origin_view)

    # 9. read back through the playback edge
    _read_back(report, cleanup, stack, config, sent)

    # 10-15. refusals
    refused, _ = _edge_refusals(report, cleanup, stack)
    wrong = IngestSecret.generate()
    report.run("Direct PUT to the container with a wrong secret is refused by the policy",
               refused("PUT", f"{stack.container_endpoint}/{_FORGED}",
                       headers={"User-Agent": wrong.user_agent},
                       expect="AccessDeniedException"))
    _playback_refuses_writes(report, stack, refused)
    return source


def _workflow_s3(
    args: argparse.Namespace,
    report: _Report,
    cleanup: ExitStack,
    workdir: Path,
    keep: Path | None,
) -> str:
    """The same story onto an S3 bucket behind Origin Access Control."""
    from mediastore_ingest.ingest import IngestClient, IngestConfig
    from mediastore_ingest.testing import LocalStack

    report.say("mediastore-ingest demo: signed live ingest through a CloudFront-like edge"
               " onto an S3 bucket with Origin Access Control, all on 127.0.0.1\n")

    # 1. the signing key
    pair, key_id = _signing_key(args, report, keep)

    # 2. the classic mistake, caught by the lint
    insecure = BucketPolicy(statements=(Statement(
        sid="PublicWrite",
        effect="Allow",
        principal=Principal.anyone(),
        actions=("s3:PutObject",),
        resources=(s3_object_arn(_BUCKET, "*"),),
    ),))
    bad = insecure.findings()
    caught = any(f.code == "public-write" and f.severity == "error" for f in bad)
    if keep is not None:
        (keep / "insecure_policy.json").write_text(insecure.to_json(indent=2) + "\n")
    report.add(
        "Lint catches an insecure bucket policy (public s3:PutObject without AWS:SourceArn)",
        caught,
        _describe_findings(bad),
    )

    # 3. the local stack: bucket, edges, one OAC each
    stack = LocalStack(key_pair=pair, key_id=key_id, origin="s3", bucket_name=_BUCKET)
    cleanup.enter_context(stack)
    bucket = stack.bucket
    report.add(
        "Start the bucket (HTTPS) and the ingest and playback edges, each with its own "
        "Origin Access Control",
        stack.ingest_distribution_arn != stack.playback_distribution_arn
        and stack.ingest_access.access_key_id != stack.playback_access.access_key_id,
        f"bucket     {bucket.origin_url}  (enforces the bucket policy below)\n"
        f"ingest     {stack.ingest_base_url}  (all methods, signed; SigV4 to the bucket as "
        f"{stack.ingest_distribution_arn})\n"
        f"playback   {stack.playback_base_url}  (GET/HEAD, signed; SigV4 as "
        f"{stack.playback_distribution_arn})",
    )

    # 4. the bucket policy the stack applied
    policy = stack.origin_policy
    findings = (
        policy.findings(playback_distributions=[stack.playback_distribution_arn])
        if isinstance(policy, BucketPolicy) else policy.findings()
    )
    if keep is not None:
        (keep / "bucket_policy.json").write_text(policy.to_json(indent=2) + "\n")
    sids = [st.sid or "?" for st in policy.statements]
    report.add(
        "Bucket policy: only the ingest distribution writes, only the playback "
        "distribution reads",
        not any(f.severity == "error" for f in findings)
        and {"CloudFrontIngest", "CloudFrontPlayback"} <= set(sids),
        "statements: " + ", ".join(sids)
        + f"; {len(policy.to_json().encode())} of 20480 bytes\n" + _describe_findings(findings),
    )

    # 5. the media
    segments, source = _media(args, report, workdir)

    # 6. push through the ingest edge, with x-amz-content-sha256
    config = IngestConfig(ca_bundle=stack.ca_bundle, origin="s3")
    ingest = cleanup.enter_context(IngestClient(
        stack.ingest_base_url, signer=stack.signer, url_expiry=dt.timedelta(minutes=5),
        config=config,
    ))
    sent: dict[str, str] = {}

    def etag_is_md5(path: str, data: bytes, result: PutResult) -> bool:
        return result.etag == f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'

    report.run(
        "Push the stream through the ingest edge with signed URLs and x-amz-content-sha256",
        _pusher(ingest, segments, sent, stack.ingest_base_url, etag_is_md5,
                "the bucket's ETag (MD5) matched every object"),
    )

    # 7. what the bucket saw
    def origin_view() -> tuple[bool, str]:
        seen = bucket.requests
        puts = [r for r in seen if r.method == "PUT"]
        key_id_ = stack.ingest_access.access_key_id
        by_ingest = [
            r for r in puts
            if (r.header("Authorization") or "").startswith(
                f"AWS4-HMAC-SHA256 Credential={key_id_}/")
        ]
        bodies = {_sha(s.data) for s in segments} | {
            _sha(_rolling_playlist(segments, i, ended=i == len(segments) - 1))
            for i in range(len(segments))
        }
        hashed = [r for r in puts if r.header("X-Amz-Content-SHA256") in bodies]
        leaked = any(config.user_agent in value for r in seen for _, value in r.headers)
        stored = {path: _sha(bucket.read(path)) for path in sent if path in bucket.paths()}
        https = all(r.tls for r in puts)
        ok = bool(puts) and https and len(by_ingest) == len(hashed) == len(puts)
        ok = ok and not leaked and stored == sent
        lines = [
            f"{len(puts)} PUTs reached the bucket over HTTPS, {len(by_ingest)} SigV4-signed by "
            "the ingest distribution's OAC, "
            f"{len(hashed)} with the body's SHA-256 as x-amz-content-sha256",
            f"the encoder's own User-Agent ({config.user_agent}) "
            + ("REACHED the bucket" if leaked else "never reached it"),
            f"{len(stored)} of {len(sent)} objects stored with exactly the bytes sent",
        ]
        return ok, "\n".join(lines)

    report.run("The bucket stored exactly what was sent, and only via the ingest OAC",
               origin_view)

    # 8. read back through the playback edge
    _read_back(report, cleanup, stack, config, sent)

    # 9-17. refusals
    refused, forged_url = _edge_refusals(report, cleanup, stack)
    forged_sha = _sha(b"forged")
    report.run("Direct unsigned PUT to the bucket is refused by the bucket policy",
               refused("PUT", bucket.url(_FORGED), headers={"x-amz-content-sha256": forged_sha},
                       expect="AccessDenied"))
    as_playback = stack.playback_access.signed_headers(
        "PUT", bucket.url(_FORGED), [("x-amz-content-sha256", forged_sha)]
    )
    report.run("A write signed as the playback distribution is refused by the bucket policy",
               refused("PUT", bucket.url(_FORGED), headers=as_playback, expect="AccessDenied"))
    now = int(time.time())
    signed_forged = stack.signer.sign_url(forged_url, expires=now + 300)
    report.run("A PUT whose x-amz-content-sha256 does not match the body is refused",
               refused("PUT", signed_forged,
                       headers={"x-amz-content-sha256": _sha(b"something else")},
                       status=400, expect="XAmzContentSHA256Mismatch"))
    report.run("A chunked PUT (no length) through the ingest edge is refused by S3",
               refused("PUT", signed_forged, chunked=True, status=411,
                       expect="MissingContentLength"))
    _playback_refuses_writes(report, stack, refused)
    return source


_Workflow = Callable[[argparse.Namespace, _Report, ExitStack, Path, Path | None], str]
#: The story the demo tells for each origin kind it can run locally.
_WORKFLOWS: dict[str, _Workflow] = {"mediastore": _workflow_mediastore, "s3": _workflow_s3}


def _demo_origins() -> tuple[str, ...]:
    """The registered origin kinds the demo has a workflow for."""
    return tuple(name for name in origin_names() if name in _WORKFLOWS)


# --- steps shared by both origins -------------------------------------------------------


def _signing_key(
    args: argparse.Namespace, report: _Report, keep: Path | None
) -> tuple[KeyPair, str]:
    key_id = new_key_id()
    if keep is not None:
        pair: KeyPair = generate_key_pair(
            keep / "private_key.pem", keep / "public_key.pem",
            algorithm=args.key_algorithm, overwrite=True,
        )
        (keep / "key_id.txt").write_text(key_id + "\n")
    else:
        pair = generate_key_pair(algorithm=args.key_algorithm)
    report.add(
        "Generate the CloudFront signing key",
        True,
        f"{pair.algorithm} key, public key id {key_id}, fingerprint sha256:"
        f"{pair.fingerprint()[:16]}…"
        + (f"\nkept in {keep}" if keep is not None else ""),
    )
    return pair, key_id


def _media(
    args: argparse.Namespace, report: _Report, workdir: Path
) -> tuple[list[_Segment], str]:
    ffmpeg = None if args.no_ffmpeg else shutil.which("ffmpeg")
    note = "--no-ffmpeg" if args.no_ffmpeg else "ffmpeg not on PATH"
    segments: list[_Segment] = []
    source = "synthetic"
    if ffmpeg is not None:
        try:
            segments = _ffmpeg_segments(ffmpeg, args.segments, workdir)
            source = "ffmpeg"
        except InvalidInputError as exc:
            note = f"ffmpeg failed ({exc}); using synthetic segments"
    if not segments:
        segments = _synthetic_segments(args.segments, random.Random(2024))  # noqa: S311
    total = sum(len(s.data) for s in segments)
    report.add(
        "Produce a short live stream",
        len(segments) >= 1,
        f"{len(segments)} segments, {total / 1024:.0f} KiB, from "
        + ("ffmpeg testsrc (MPEG-2 in MPEG-TS)" if source == "ffmpeg" else
           f"synthetic TS-like packets ({note})"),
    )
    return segments, source


def _pusher(
    ingest: IngestClient,
    segments: list[_Segment],
    sent: dict[str, str],
    base_url: str,
    matches: Callable[[str, bytes, PutResult], bool],
    matched_text: str,
) -> Callable[[], tuple[bool, str]]:
    """Each segment, then the rolling playlist; ``matches`` checks the origin's answer."""

    def push() -> tuple[bool, str]:
        puts = 0
        mismatched = []
        for index, segment in enumerate(segments):
            path = f"{_STREAM}/{segment.name}"
            result = ingest.put(path, segment.data, content_type="video/mp2t")
            sent[path] = _sha(segment.data)
            if not matches(path, segment.data, result):
                mismatched.append(path)
            playlist = _rolling_playlist(segments, index, ended=index == len(segments) - 1)
            ingest.put(f"{_STREAM}/index.m3u8", playlist,
                       content_type="application/vnd.apple.mpegurl",
                       cache_control="max-age=1")
            sent[f"{_STREAM}/index.m3u8"] = _sha(playlist)
            puts += 2
        return not mismatched, (
            f"{puts} signed PUTs (each segment, then the rolling playlist) via "
            f"{base_url}/{_STREAM}/"
            + (f"\norigin SHA-256 differs for {', '.join(mismatched)}" if mismatched else
               f"\n{matched_text}")
        )

    return push


def _read_back(
    report: _Report, cleanup: ExitStack, stack: LocalStack, config: IngestConfig,
    sent: dict[str, str],
) -> None:
    from mediastore_ingest.ingest import IngestClient

    playback = cleanup.enter_context(IngestClient(
        stack.playback_base_url, signer=stack.signer, config=config,
    ))

    def read_back() -> tuple[bool, str]:
        if not sent:
            return False, "nothing was pushed"
        wrong = [p for p, digest in sent.items() if _sha(playback.get(p)) != digest]
        return not wrong, (
            f"{len(sent)} objects read via {stack.playback_base_url} with signed URLs; "
            + ("SHA-256 identical to what was sent" if not wrong else
               f"SHA-256 differs for {', '.join(wrong)}")
        )

    report.run("Read the stream back through the playback edge and compare SHA-256", read_back)


_Check = Callable[[], tuple[bool, str]]


def _refusal_checker(pool: urllib3.PoolManager, stack: LocalStack) -> Callable[..., _Check]:
    """``refused(method, url, ...)``: a step expecting that status and error code, and
    the forged object never stored."""

    def refused(
        method: str, url: str, *, headers: dict[str, str] | None = None, expect: str,
        status: int = 403, chunked: bool = False,
    ) -> _Check:
        def check() -> tuple[bool, str]:
            body: bytes | Iterator[bytes] = iter([b"for", b"ged"]) if chunked else b"forged"
            response = pool.request(method, url, body=body, headers=headers, chunked=chunked)
            code = _error_code(response)
            detail = response.headers.get("X-Edge-Error-Detail")
            stored = _FORGED in stack.origin.paths()
            ok = response.status == status and code == expect and not stored
            return ok, (
                f"HTTP {response.status} {code}" + (f" ({detail})" if detail else "")
                + ("; nothing stored" if not stored else "; BUT THE OBJECT WAS STORED")
            )
        return check

    return refused


def _edge_refusals(
    report: _Report, cleanup: ExitStack, stack: LocalStack
) -> tuple[Callable[..., _Check], str]:
    """Run the edge's refusal steps; return the checker and the forged URL for the
    origin-specific refusals that follow."""
    pool = cleanup.enter_context(urllib3.PoolManager(
        retries=False, ca_certs=stack.ca_bundle, timeout=urllib3.Timeout(10)
    ))
    forged_url = f"{stack.ingest_base_url}/{_FORGED}"
    refused = _refusal_checker(pool, stack)
    now = int(time.time())
    report.run("Unsigned PUT to the ingest edge is refused",
               refused("PUT", forged_url, expect="MissingKey"))
    report.run("Expired signed URL is refused",
               refused("PUT", stack.signer.sign_url(forged_url, expires=now - 60, now=now - 120),
                       expect="AccessDenied"))
    report.run("Tampered signature is refused",
               refused("PUT", _tamper(stack.signer.sign_url(forged_url, expires=now + 300)),
                       expect="AccessDenied"))
    stranger = UrlSigner(new_key_id(), generate_key_pair(algorithm="ecdsa").private_key,
                         hash_algorithm="SHA256")
    report.run("URL signed with a key id outside the key group is refused",
               refused("PUT", stranger.sign_url(forged_url, expires=now + 300),
                       expect="InvalidKey"))
    return refused, forged_url


def _playback_refuses_writes(
    report: _Report, stack: LocalStack, refused: Callable[..., _Check]
) -> None:
    now = int(time.time())
    report.run("The playback edge refuses writes even when signed",
               refused("PUT", stack.signer.sign_url(
                   f"{stack.playback_base_url}/{_FORGED}", expires=now + 300),
                   expect="MethodNotAllowed"))


def _tamper(url: str) -> str:
    head, _, rest = url.partition("Signature=")
    value, amp, tail = rest.partition("&")
    i = len(value) // 2
    value = value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1 :]
    return f"{head}Signature={value}{amp}{tail}"
