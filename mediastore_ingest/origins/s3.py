"""Amazon S3 buckets behind CloudFront Origin Access Control (OAC): what one
accepts, and the bucket policy that guards it.

``S3`` describes the origin: object keys of 1-1024 bytes of UTF-8, any
Content-Type header value, at most 5 GiB per PUT, no plain chunked upload, and
``x-amz-content-sha256`` on every PUT, as OAC requires. ``BucketPolicy`` is a
``ContainerPolicy`` with S3's 20 KB limit and
lint; ``BucketPolicyBuilder`` writes one that lets only the ingest distribution
write (``Principal: {"Service": "cloudfront.amazonaws.com"}`` with ``AWS:SourceArn``)
and only the playback distribution read. ``bucket_arn`` and ``s3_object_arn``
name what such a policy covers; a policy is evaluated offline with
``evaluate_container_policy``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Iterator, Sequence

import attrs

from mediastore_ingest._internal.jsonutil import compact_json
from mediastore_ingest._internal.show import type_name
from mediastore_ingest._internal.validate import str_items
from mediastore_ingest.errors import (
    ContainerPolicyError,
    InvalidContentTypeError,
    InvalidInputError,
    InvalidPathError,
)
from mediastore_ingest.iam.document import (
    Condition,
    ContainerPolicy,
    Principal,
    Statement,
    check_indent,
    check_statements,
)
from mediastore_ingest.iam.lint import (
    Finding,
    Severity,
    WriteAndReadUses,
    whole_policy_findings,
)
from mediastore_ingest.iam.secret import IngestSecret, shown_hiding_secret
from mediastore_ingest.origins.arn import (
    check_account_id,
    check_partition,
    distribution_arn,
    is_distribution_arn,
    is_distribution_id,
)
from mediastore_ingest.origins.base import Origin, register_origin

__all__ = [
    "CLOUDFRONT_SERVICE_PRINCIPAL",
    "MAX_BUCKET_POLICY_BYTES",
    "S3",
    "S3_INGEST_ACTIONS",
    "BucketPolicy",
    "BucketPolicyBuilder",
    "bucket_arn",
    "check_bucket_name",
    "s3_object_arn",
    "validate_s3_content_type",
    "validate_s3_key",
]

#: S3 refuses bucket policies larger than 20 KB (AWS S3 User Guide, "Bucket policies
#: and user policies"); measured here as UTF-8 bytes of the compact JSON form.
MAX_BUCKET_POLICY_BYTES = 20 * 1024
#: The principal CloudFront uses when an Origin Access Control signs origin requests.
CLOUDFRONT_SERVICE_PRINCIPAL = "cloudfront.amazonaws.com"
#: What encoders may do through the ingest distribution on an S3 origin: PUT, DELETE
#: and GET/HEAD (S3 authorises HEAD as ``s3:GetObject``).
S3_INGEST_ACTIONS: tuple[str, ...] = ("s3:PutObject", "s3:DeleteObject", "s3:GetObject")

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)
_ARN_ACCOUNT_RE = re.compile(r":\d{12}:", re.ASCII)
_S3_ACTION_RE = re.compile(r"s3:[A-Za-z]+", re.ASCII)
_KEY_PREFIX_RE = re.compile(r"[A-Za-z0-9!_.*'()/-]*", re.ASCII)


def _playback_arns(value: Iterable[str]) -> tuple[str, ...]:
    """``playback_distributions`` as a tuple of ARNs (one str is one ARN)."""
    return str_items(value, "playback_distributions", empty_items=True)


_S3_WRITE_ACTIONS = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion",
                     "s3:PutObjectAcl")
_S3_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")


def check_bucket_name(bucket: object) -> str:
    """Return ``bucket`` if it is a valid S3 (general purpose) bucket name.

    3-63 lowercase letters, digits, ``.`` and ``-``; starts and ends with a letter or
    digit; no ``..``; not an IPv4 address; none of S3's reserved prefixes/suffixes.
    """
    if not isinstance(bucket, str) or not _BUCKET_RE.fullmatch(bucket):
        raise InvalidInputError(
            "bucket must be an S3 bucket name: 3-63 lowercase letters, digits, '.' or '-', "
            f"starting and ending with a letter or digit, got {shown_hiding_secret(bucket)}"
        )
    reserved = bucket.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or bucket.endswith(
        ("-s3alias", "--ol-s3", ".mrap", "--x-s3")
    )
    if ".." in bucket or reserved or _is_ipv4(bucket):
        raise InvalidInputError(f"{bucket!r} is not a name S3 accepts for a bucket")
    return bucket


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def bucket_arn(bucket: str, *, partition: str = "aws") -> str:
    """``arn:aws:s3:::<bucket>`` (S3 bucket ARNs carry no region or account)."""
    return f"arn:{check_partition(partition)}:s3:::{check_bucket_name(bucket)}"


def s3_object_arn(bucket: str, key: str, *, partition: str = "aws") -> str:
    """``arn:aws:s3:::<bucket>/<key>``: what a bucket policy ``Resource`` is matched
    against for object ``key`` (``"*"`` gives the pattern for every object)."""
    if not isinstance(key, str):
        raise InvalidInputError(f"key must be a str, got {type_name(key)}")
    return f"{bucket_arn(bucket, partition=partition)}/{key.lstrip('/')}"


# --- the policy --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class BucketPolicy(ContainerPolicy):
    """An S3 bucket policy document: a ``ContainerPolicy`` with S3's rules.

    Parse with ``from_json`` (inherited, returns a ``BucketPolicy``); build with
    ``BucketPolicyBuilder``; ``BucketPolicy.from_json(p.to_json()) == p``.
    """

    @classmethod
    def from_json(cls, text: str | bytes) -> BucketPolicy:
        """Parse a bucket policy document (see ``ContainerPolicy.from_json``)."""
        policy = super().from_json(text)
        assert isinstance(policy, BucketPolicy)
        return policy

    @classmethod
    def from_dict(cls, document: object) -> BucketPolicy:
        """Like ``from_json``, for an already-decoded JSON object."""
        policy = super().from_dict(document)
        assert isinstance(policy, BucketPolicy)
        return policy

    def to_json(self, *, indent: int | None = None) -> str:
        """Compact JSON (or pretty with ``indent``), as ``PutBucketPolicy`` takes it.

        Raises ``ContainerPolicyError`` if the compact form is larger than
        ``MAX_BUCKET_POLICY_BYTES`` or holds a non-ASCII character.
        """
        check_indent(indent)
        for finding in self.findings():
            if finding.code in ("non-ascii", "policy-too-large"):
                raise ContainerPolicyError(finding.message)
        document = self.to_dict()
        return compact_json(document) if indent is None else json.dumps(document, indent=indent)

    def findings(
        self,
        *,
        known_secrets: Iterable[IngestSecret] | None = None,
        playback_distributions: Iterable[str] | None = None,
    ) -> tuple[Finding, ...]:
        """Lint the bucket policy (``known_secrets`` is accepted for signature
        compatibility and ignored: OAC needs no secret). Codes:

        * ``public-write`` (error): an Allow of ``s3:PutObject``/``s3:DeleteObject`` to
          everyone, or to the CloudFront service principal, without an
          ``AWS:SourceArn`` condition — any distribution in any account could write;
        * ``unscoped-cloudfront`` (warning): reads granted to the CloudFront service
          principal without ``AWS:SourceArn``;
        * ``shared-distribution`` (error): one distribution ARN both in a statement
          that grants writes and in another that grants reads — give playback its own
          distribution;
        * ``playback-write`` (error): writes granted to one of ``playback_distributions``;
        * ``duplicate-sid``, ``non-ascii`` (errors); ``policy-too-large`` (error, over
          ``MAX_BUCKET_POLICY_BYTES``).
        """
        playback = set(
            ()
            if playback_distributions is None
            else _playback_arns(playback_distributions)
        )
        size = len(compact_json(self.to_dict()).encode("utf-8"))
        too_large = (
            f"the bucket policy is {size} bytes; S3 accepts at most "
            f"{MAX_BUCKET_POLICY_BYTES} (20 KB)"
            if size > MAX_BUCKET_POLICY_BYTES
            else None
        )
        return (
            *_lint_statements(self.statements, playback),
            *whole_policy_findings(self, too_large),
        )


def _source_arns(st: Statement) -> tuple[str, ...]:
    return tuple(
        v
        for c in st.conditions
        if c.key.lower() == "aws:sourcearn"
        and c.operator in ("StringEquals", "StringLike", "ArnEquals", "ArnLike")
        for v in c.values
    )


def _scoped(st: Statement) -> bool:
    """A positive ``AWS:SourceArn`` match naming an account (``:<12 digits>:``)."""
    return any(_ARN_ACCOUNT_RE.search(v) for v in _source_arns(st))


def _lint_statements(
    statements: Sequence[Statement], playback: set[str]
) -> Iterator[Finding]:
    seen_sids: set[str] = set()
    uses = WriteAndReadUses()  # of each distribution ARN
    for i, st in enumerate(statements):
        name = f"Statement[{i}]" + (f" ({st.sid})" if st.sid else "")
        for code, severity, message in _statement_problems(
            i, st, playback, seen_sids, uses
        ):
            yield Finding(code=code, severity=severity, sid=st.sid,
                          message=f"{name} {message}", index=i)


_Problem = tuple[str, Severity, str]


def _statement_problems(
    i: int,
    st: Statement,
    playback: set[str],
    seen_sids: set[str],
    uses: WriteAndReadUses,
) -> Iterator[_Problem]:
    """Findings for statement ``i``; updates the cross-statement state it is given."""
    if st.sid is not None:
        if st.sid in seen_sids:
            yield "duplicate-sid", "error", f"reuses the Sid {st.sid!r}"
        seen_sids.add(st.sid)
    if not compact_json(st.to_json_value()).isascii():
        yield "non-ascii", "error", "holds a non-ASCII character"
    if st.effect != "Allow":
        return
    writes = any(st.grants(a) for a in _S3_WRITE_ACTIONS)
    reads = any(st.grants(a) for a in _S3_READ_ACTIONS)
    everyone = st.not_principal is not None or (
        st.principal is not None and st.principal.is_public
    )
    service = st.principal is not None and any(
        s.lower() == CLOUDFRONT_SERVICE_PRINCIPAL for s in st.principal.service
    )
    if writes and (everyone or service) and not _scoped(st):
        who = "anyone" if everyone else "any CloudFront distribution (of any account)"
        yield ("public-write", "error",
               f"lets {who} write (s3:PutObject/DeleteObject) without an AWS:SourceArn "
               "condition naming the ingest distribution")
    elif reads and service and not everyone and not _scoped(st):
        yield ("unscoped-cloudfront", "warning",
               "lets any CloudFront distribution read; add an AWS:SourceArn condition")
    for arn in dict.fromkeys(_source_arns(st)):
        if writes and arn in playback:
            yield ("playback-write", "error",
                   f"grants writes to the playback distribution {arn}")
        other = uses.other_use(arn, i, writes=writes, reads=reads)
        if other is not None:
            yield ("shared-distribution", "error",
                   f"and Statement[{other}] name the same distribution {arn} for writing "
                   "and reading; give playback its own distribution")


# --- the builder -------------------------------------------------------------------------

_BUILDER_REFUSES = ("public-write", "shared-distribution", "playback-write",
                    "duplicate-sid", "non-ascii")


def _check_s3_actions(actions: str | Iterable[str]) -> tuple[str, ...]:
    items = str_items(actions, "actions", empty_items=True)
    if not items:
        raise InvalidInputError("actions must name at least one action")
    out: list[str] = []
    for action in items:
        if not _S3_ACTION_RE.fullmatch(action):
            raise InvalidInputError(
                "not an S3 object action like 's3:PutObject' (no wildcards): "
                f"{shown_hiding_secret(action)}"
            )
        out.append(action)
    return tuple(dict.fromkeys(out))


def _check_key_prefix(prefix: object) -> str:
    if not isinstance(prefix, str) or not _KEY_PREFIX_RE.fullmatch(prefix):
        raise InvalidInputError(
            "key_prefix may hold only letters, digits and !_.*'()/- "
            f"(S3's safe key characters), got {shown_hiding_secret(prefix, 1024)}"
        )
    return prefix.lstrip("/")


@attrs.frozen(kw_only=True)
class BucketPolicyBuilder:
    """Immutable builder for the bucket policy of an S3 origin behind OAC.

    ``account_id`` is the account of the distributions: a bare distribution id given
    to ``allow_cloudfront_ingest``/``allow_cloudfront_read`` becomes
    ``arn:aws:cloudfront::<account_id>:distribution/<id>``. Every method returns a new
    builder; the builder refuses a statement its own lint would flag (public write,
    a distribution used for both writing and reading, duplicate Sid, non-ASCII).
    """

    bucket: str = attrs.field(converter=check_bucket_name)
    account_id: str = attrs.field(converter=check_account_id)
    partition: str = attrs.field(default="aws", converter=check_partition)
    statements: tuple[Statement, ...] = attrs.field(default=(), converter=check_statements)
    playback_distributions: tuple[str, ...] = attrs.field(default=(), converter=_playback_arns)

    def resource(self, key_prefix: str = "") -> str:
        """``arn:aws:s3:::<bucket>/<key_prefix>*``."""
        return s3_object_arn(self.bucket, _check_key_prefix(key_prefix) + "*",
                             partition=self.partition)

    def _arn(self, distribution: str) -> str:
        if is_distribution_id(distribution):
            return distribution_arn(self.account_id, distribution, partition=self.partition)
        if not is_distribution_arn(distribution):
            raise InvalidInputError(
                "expected a distribution id ('E2EXAMPLE') or ARN ('arn:aws:cloudfront::"
                "111122223333:distribution/E2EXAMPLE'), "
                f"got {shown_hiding_secret(distribution, 256)}"
            )
        return distribution

    def add_statement(self, statement: Statement) -> BucketPolicyBuilder:
        """A new builder with ``statement`` appended (after the builder's checks)."""
        if not isinstance(statement, Statement):
            raise InvalidInputError(f"expected a Statement, got {type_name(statement)}")
        statements = (*self.statements, statement)
        policy = BucketPolicy(statements=statements)
        for finding in policy.findings(playback_distributions=self.playback_distributions):
            if finding.code in _BUILDER_REFUSES:
                raise ContainerPolicyError(f"refusing to add the statement: {finding.message}")
        return attrs.evolve(self, statements=statements)

    def _oac_statement(
        self, sid: str, arn: str, actions: tuple[str, ...], key_prefix: str
    ) -> Statement:
        return Statement(
            sid=sid, effect="Allow", principal=Principal(service=CLOUDFRONT_SERVICE_PRINCIPAL),
            actions=actions, resources=(self.resource(key_prefix),),
            conditions=(Condition("StringEquals", "AWS:SourceArn", (arn,)),),
        )

    def allow_cloudfront_ingest(
        self,
        distribution_arn: str,
        *,
        actions: str | Sequence[str] = ("s3:PutObject",),
        key_prefix: str = "",
        sid: str = "CloudFrontIngest",
    ) -> BucketPolicyBuilder:
        """Writes only from the ingest distribution, through its OAC.

        Add ``"s3:DeleteObject"`` to ``actions`` if encoders delete old segments, and
        ``"s3:GetObject"`` if they HEAD/GET through the ingest distribution
        (``S3_INGEST_ACTIONS`` has all three). ``key_prefix`` narrows the
        Resource to ``<bucket>/<key_prefix>*``.
        """
        arn = self._arn(distribution_arn)
        if arn in self.playback_distributions:
            raise ContainerPolicyError(
                f"refusing to add the statement: {arn} is the playback distribution; "
                "the ingest distribution must be a different one"
            )
        return self.add_statement(
            self._oac_statement(sid, arn, _check_s3_actions(actions), key_prefix)
        )

    def allow_cloudfront_read(
        self,
        playback_distribution_arn: str,
        *,
        key_prefix: str = "",
        sid: str = "CloudFrontPlayback",
    ) -> BucketPolicyBuilder:
        """``s3:GetObject`` only, only from the playback distribution (GET and HEAD)."""
        arn = self._arn(playback_distribution_arn)
        builder = attrs.evolve(
            self, playback_distributions=(*self.playback_distributions, arn)
        )
        return builder.add_statement(
            self._oac_statement(sid, arn, ("s3:GetObject",), key_prefix)
        )

    def deny_insecure_transport(self, *, sid: str = "DenyInsecureTransport") -> BucketPolicyBuilder:
        """Deny every ``s3:*`` request on the bucket and its objects made over plain
        HTTP (``Bool aws:SecureTransport "false"``): the standard S3 hardening."""
        bucket = bucket_arn(self.bucket, partition=self.partition)
        return self.add_statement(Statement(
            sid=sid, effect="Deny", principal=Principal.anyone(), actions=("s3:*",),
            resources=(bucket, f"{bucket}/*"),
            conditions=(Condition("Bool", "aws:SecureTransport", ("false",)),),
        ))

    def build(self) -> BucketPolicy:
        """The policy; raises ``ContainerPolicyError`` if empty or too large."""
        if not self.statements:
            raise ContainerPolicyError("the builder holds no statement; add one with allow_*()")
        policy = BucketPolicy(statements=self.statements)
        policy.to_json()  # enforces S3's size limit
        return policy


# --- the origin description ------------------------------------------------------------

_S3_KEY_MAX_BYTES = 1024


def validate_s3_key(path: object) -> str:
    """Return ``path`` if it is an S3 object key this client sends unambiguously
    through CloudFront, else raise ``InvalidPathError``.

    1-1024 bytes of UTF-8, no control characters, no leading ``/``, no empty,
    ``.`` or ``..`` segment (clients and CloudFront normalise those away, so the key
    stored would not be the key signed). Everything else is percent-encoded on the
    wire.
    """
    if not isinstance(path, str):
        raise InvalidPathError(f"object key must be a str, not {type_name(path)}")
    size = len(path.encode("utf-8", "surrogatepass"))
    if not 1 <= size <= _S3_KEY_MAX_BYTES:
        raise InvalidPathError(
            f"object key is {size} bytes of UTF-8; S3 allows 1-{_S3_KEY_MAX_BYTES}",
            path=path[:80],
        )
    if any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in path):
        raise InvalidPathError(f"object key {path!r} has a control character", path=path)
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise InvalidPathError(
            f"invalid object key {path!r} (no leading '/', empty, '.' or '..' segment)",
            path=path,
        )
    return path


def validate_s3_content_type(content_type: object, *, path: str | None = None) -> str:
    """Return ``content_type`` if it is a valid header value for S3 (parameters such
    as ``; codecs=...`` allowed), else raise
    ``InvalidContentTypeError``."""
    if (
        not isinstance(content_type, str)
        or not 0 < len(content_type) <= 255
        or not content_type.isascii()
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in content_type)
        or "/" not in content_type
    ):
        raise InvalidContentTypeError(f"invalid Content-Type {content_type!r}", path=path)
    return content_type


#: The largest object one PUT stores (bytes); larger objects need a multipart upload.
MAX_OBJECT_BYTES = 5 * 1024**3

#: The S3 origin description (a bucket behind CloudFront Origin Access Control).
S3 = register_origin(
    Origin(
        name="s3",
        label="an Amazon S3 bucket behind Origin Access Control",
        validate_path=validate_s3_key,
        validate_content_type=validate_s3_content_type,
        max_object_bytes=MAX_OBJECT_BYTES,
        max_streaming_bytes=None,  # no plain chunked PUT: the length must be known
        upload_deadline=None,
        requires_content_sha256=True,
        put_options=frozenset(),
        sigv4_service="s3",
        cloudfront_s3_origin=True,
        needs_origin_access_control=True,
        policy_type=BucketPolicy,
        policy_builder=BucketPolicyBuilder,
        object_arn=s3_object_arn,
        error_hints={
            "XAmzContentSHA256Mismatch": (
                "an S3 origin behind Origin Access Control needs x-amz-content-sha256 on "
                "every PUT: use IngestConfig(origin='s3') or --origin s3"
            ),
            "AccessDenied": (
                "the bucket policy refused the request: check that it allows the "
                "distribution's ARN (AWS:SourceArn) and that the distribution uses the "
                "Origin Access Control; S3 also answers AccessDenied for a missing key "
                "when the caller may not list the bucket"
            ),
            "NoSuchBucket": "the bucket does not exist",
            "NoSuchKey": "no object at that key",
            "SlowDown": "S3 is scaling up for this prefix: the request is retried",
            "EntityTooLarge": (
                "the object is larger than one PUT stores (5 GiB); larger objects need a "
                "multipart upload"
            ),
            "MissingContentLength": (
                "S3 takes no plain chunked PUT: the body's length must be known before "
                "it is sent (Content-Length)"
            ),
            "BadDigest": "the Content-MD5 or checksum header does not match the body",
            "RequestTimeTooSkewed": (
                "the clock of whoever signed the request (SigV4) is more than 15 minutes "
                "off"
            ),
            "SignatureDoesNotMatch": (
                "a request made straight to the bucket (not through CloudFront) has a "
                "SigV4 signature that does not match: check the secret key"
            ),
            "InternalError": "S3 failed on its side: the request is retried",
        },
    )
)
