"""AWS Elemental MediaStore containers: what one accepts, and the policy that guards it.

``MEDIASTORE`` describes the origin: paths of up to 10 folders and a file name of
``A-Z a-z 0-9 _ . - ~`` (at most 900 characters), Content-Types matching
``^[\\w\\-\\/\\.\\+]{1,255}$``, objects of at most 25 MiB (10 MiB with a streaming,
chunked upload) that must arrive within 30 s, and what its error codes mean.
``ContainerPolicyBuilder`` writes the container policy that lets only the ingest
distribution write; ``container_arn`` and ``mediastore_object_arn`` name what
such a policy covers.

AWS ended MediaStore on 2025-11-13; the description stays so that existing containers
keep working.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

import attrs

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
    check_statements,
)
from mediastore_ingest.iam.secret import IngestSecret, shown_hiding_secret
from mediastore_ingest.origins.arn import (
    check_account_id,
    check_region,
    is_distribution_arn,
    region_partition,
)
from mediastore_ingest.origins.base import Origin, register_origin

__all__ = [
    "MAX_OBJECT_BYTES",
    "MAX_STREAMING_BYTES",
    "MEDIASTORE",
    "UPLOAD_DEADLINE",
    "ContainerPolicyBuilder",
    "check_container_name",
    "container_arn",
    "mediastore_object_arn",
    "validate_content_type",
    "validate_path",
]

#: The largest object one standard PUT stores (bytes).
MAX_OBJECT_BYTES = 25 * 1024 * 1024
#: The largest object a streaming (chunked) PUT stores (bytes).
MAX_STREAMING_BYTES = 10 * 1024 * 1024
#: MediaStore cancels a PUT whose object has not fully arrived within this (seconds).
UPLOAD_DEADLINE = 30.0

_CONTAINER_RE = re.compile(r"[\w-]{1,255}", re.ASCII)
_ACTION_RE = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+|\*", re.ASCII)
_DEFAULT_READ_ACTIONS = ("mediastore:GetObject", "mediastore:DescribeObject")
_PATH_RE = re.compile(r"(?:[A-Za-z0-9_.\-~]+/){0,10}[A-Za-z0-9_.\-~]+\Z")
_CONTENT_TYPE_RE = re.compile(r"[\w\-/.+]{1,255}\Z", re.ASCII)
_MAX_PATH = 900


def validate_path(path: object) -> str:
    """Return ``path`` if MediaStore accepts it as an object path, else raise
    ``InvalidPathError``.

    Up to 10 folders and a file name of ``A-Z a-z 0-9 _ . - ~``, at most 900
    characters, no leading or trailing ``/``, no empty segment.
    """
    if not isinstance(path, str):
        raise InvalidPathError(f"object path must be a str, not {type_name(path)}")
    if len(path) > _MAX_PATH:
        raise InvalidPathError(
            f"object path is {len(path)} characters; MediaStore allows at most {_MAX_PATH}",
            path=path[:80] + "...",
        )
    if not _PATH_RE.match(path):
        hint = ""
        if path.startswith("/"):
            hint = " (no leading '/')"
        elif path.count("/") > 10:
            hint = " (at most 10 folders)"
        elif path.endswith("/") or "//" in path or not path:
            hint = " (empty folder or file name)"
        else:
            hint = " (only letters, digits and _ . - ~ are allowed)"
        raise InvalidPathError(f"invalid object path {path!r}{hint}", path=path)
    if any(part in (".", "..") for part in path.split("/")):
        raise InvalidPathError(
            f"invalid object path {path!r} ('.' and '..' are not names)", path=path
        )
    return path


def validate_content_type(content_type: object, *, path: str | None = None) -> str:
    """Return ``content_type`` if MediaStore accepts it, else raise
    ``InvalidContentTypeError``."""
    if not isinstance(content_type, str) or not _CONTENT_TYPE_RE.match(content_type):
        raise InvalidContentTypeError(
            f"invalid Content-Type {content_type!r}: MediaStore accepts 1-255 characters "
            "of letters, digits, _ - / . + (no parameters such as '; charset=')",
            path=path,
        )
    return content_type


# --- names and ARNs ------------------------------------------------------------------


def check_container_name(container: object) -> str:
    """``container`` if it is a MediaStore container name (1-255 letters, digits,
    ``_`` or ``-``), else an ``InvalidInputError``."""
    if not isinstance(container, str) or not _CONTAINER_RE.fullmatch(container):
        raise InvalidInputError(
            "container must be 1-255 letters, digits, '_' or '-' "
            f"(a MediaStore container name), got {shown_hiding_secret(container, 255)}"
        )
    return container


def container_arn(region: str, account_id: str, container: str) -> str:
    """``arn:aws:mediastore:<region>:<account>:container/<container>``."""
    region = check_region(region)
    return (
        f"arn:{region_partition(region)}:mediastore:{region}:{check_account_id(account_id)}"
        f":container/{check_container_name(container)}"
    )


def mediastore_object_arn(region: str, account_id: str, container: str, path: str) -> str:
    """The ARN a container policy ``Resource`` is matched against for object ``path``.

    ``path`` is the object path inside the container (``"live/seg1.ts"``); ``"*"``
    gives the pattern for every object, and a folder path (``""`` for the root) is
    what a ``ListItems`` request on that folder is checked against.
    """
    if not isinstance(path, str):
        raise InvalidInputError(f"path must be a str, got {type_name(path)}")
    return f"{container_arn(region, account_id, container)}/{path.lstrip('/')}"


# --- the container policy builder ------------------------------------------------------


def _secure_transport() -> Condition:
    return Condition("Bool", "aws:SecureTransport", ("true",))


def _user_agent_is(secret: IngestSecret) -> Condition:
    return Condition("StringEquals", "aws:UserAgent", (secret.user_agent,))


def _check_actions(actions: str | Iterable[str]) -> tuple[str, ...]:
    items = str_items(actions, "actions", empty_items=True)
    if not items:
        raise InvalidInputError("actions must name at least one action")
    out: list[str] = []
    for action in items:
        if not _ACTION_RE.fullmatch(action):
            raise InvalidInputError(
                f"not an IAM action like 'mediastore:PutObject': {shown_hiding_secret(action)}"
            )
        out.append(action)
    return tuple(out)


def _check_networks(source_ips: str | Iterable[str]) -> tuple[str, ...]:
    items = str_items(source_ips, "source_ips", empty_items=True)
    out = []
    for item in items:
        try:
            out.append(str(ipaddress.ip_network(item, strict=True)))
        except ValueError as exc:
            raise InvalidInputError(
                "not an IP address or CIDR block (host bits must be zero): "
                f"{shown_hiding_secret(item)}"
            ) from exc
    if not out:
        raise InvalidInputError("source_ips is empty; pass None for no address condition")
    return tuple(out)


def _check_secret_arg(secret: object) -> IngestSecret:
    if not isinstance(secret, IngestSecret):
        raise InvalidInputError(
            f"expected an IngestSecret, got {type_name(secret)} "
            "(wrap the value: IngestSecret(value))"
        )
    return secret


# Findings the builder refuses to produce; policy-too-large is left to build().
_BUILDER_REFUSES = ("public-write", "insecure-write", "short-secret", "shared-secret",
                    "duplicate-sid", "non-ascii")


@attrs.frozen(kw_only=True)
class ContainerPolicyBuilder:
    """Immutable builder for a MediaStore container policy.

    Every ``allow_*`` method returns a new builder; ``build`` returns the
    ``ContainerPolicy``. The builder refuses a
    statement that its own lint (``ContainerPolicy.findings``) would flag, e.g. a
    duplicate Sid or a playback statement reusing the ingest secret.
    """

    region: str = attrs.field(converter=check_region)
    account_id: str = attrs.field(converter=check_account_id)
    container: str = attrs.field(converter=check_container_name)
    statements: tuple[Statement, ...] = attrs.field(default=(), converter=check_statements)

    @property
    def resource(self) -> str:
        """``arn:aws:mediastore:<region>:<account>:container/<name>/*``."""
        return mediastore_object_arn(self.region, self.account_id, self.container, "*")

    def add_statement(self, statement: Statement) -> ContainerPolicyBuilder:
        """A new builder with ``statement`` appended (after the builder's checks)."""
        if not isinstance(statement, Statement):
            raise InvalidInputError(f"expected a Statement, got {type_name(statement)}")
        statements = (*self.statements, statement)
        for finding in ContainerPolicy(statements=statements).findings():
            if finding.code in _BUILDER_REFUSES:
                raise ContainerPolicyError(f"refusing to add the statement: {finding.message}")
        return attrs.evolve(self, statements=statements)

    def _allow(
        self,
        sid: str,
        principal: Principal,
        actions: tuple[str, ...],
        *,
        gate: Condition | None = None,
        also: tuple[Condition, ...] = (),
    ) -> ContainerPolicyBuilder:
        """A new builder allowing ``principal`` ``actions`` on every object of the
        container under, in this order, ``gate`` (what only the distribution can
        satisfy), ``aws:SecureTransport`` true and ``also``."""
        gates = () if gate is None else (gate,)
        return self.add_statement(Statement(
            sid=sid, effect="Allow", principal=principal, actions=actions,
            resources=(self.resource,), conditions=(*gates, _secure_transport(), *also),
        ))

    def allow_account_full_access(
        self, *, sid: str = "MediaStoreFullAccess"
    ) -> ContainerPolicyBuilder:
        """MediaStore's default statement: the account may do anything, over HTTPS."""
        root = f"arn:{region_partition(self.region)}:iam::{self.account_id}:root"
        return self._allow(sid, Principal(aws=root), ("mediastore:*",))

    def allow_public_read_over_https(
        self, *, sid: str = "PublicReadOverHttps"
    ) -> ContainerPolicyBuilder:
        """Anyone may GetObject/DescribeObject, over HTTPS only."""
        return self._allow(sid, Principal.anyone(), _DEFAULT_READ_ACTIONS)

    def allow_cloudfront_ingest(
        self,
        secret: IngestSecret,
        *,
        source_ips: str | Iterable[str] | None = None,
        actions: str | Sequence[str] = ("mediastore:PutObject",),
        sid: str = "CloudFrontIngest",
    ) -> ContainerPolicyBuilder:
        """Writes only from the ingest distribution: ``aws:UserAgent`` must equal
        ``secret.user_agent``, over HTTPS.

        Add ``"mediastore:DeleteObject"`` to ``actions`` if encoders delete old
        segments. ``source_ips`` adds ``IpAddress aws:SourceIp``; note that behind
        CloudFront the origin sees the *edge's* address, not the encoder's.
        """
        gate = _user_agent_is(_check_secret_arg(secret))
        also = () if source_ips is None else (
            Condition("IpAddress", "aws:SourceIp", _check_networks(source_ips)),
        )
        return self._allow(
            sid, Principal.anyone(), _check_actions(actions), gate=gate, also=also
        )

    def allow_cloudfront_read(
        self,
        secret: IngestSecret,
        *,
        actions: str | Sequence[str] = _DEFAULT_READ_ACTIONS,
        sid: str = "CloudFrontPlayback",
    ) -> ContainerPolicyBuilder:
        """Reads only from the playback distribution, gated by its own secret."""
        gate = _user_agent_is(_check_secret_arg(secret))
        return self._allow(sid, Principal.anyone(), _check_actions(actions), gate=gate)

    def allow_cloudfront_oac(
        self,
        distribution_arn: str,
        *,
        actions: str | Sequence[str] = _DEFAULT_READ_ACTIONS,
        sid: str = "CloudFrontOriginAccessControl",
    ) -> ContainerPolicyBuilder:
        """Origin Access Control: the CloudFront service principal, only on behalf
        of ``distribution_arn`` (``arn:aws:cloudfront::<account>:distribution/<id>``).

        Read-only by default; pass ``actions=("mediastore:PutObject", ...)`` for ingest.
        """
        if not is_distribution_arn(distribution_arn):
            raise InvalidInputError(
                "distribution_arn must look like 'arn:aws:cloudfront::111122223333:"
                f"distribution/E2EXAMPLE', got {shown_hiding_secret(distribution_arn, 256)}"
            )
        gate = Condition("StringEquals", "AWS:SourceArn", (distribution_arn,))
        return self._allow(
            sid, Principal(service="cloudfront.amazonaws.com"), _check_actions(actions), gate=gate
        )

    def build(self) -> ContainerPolicy:
        """The policy; raises ``ContainerPolicyError`` if it is empty or too large."""
        if not self.statements:
            raise ContainerPolicyError("the builder holds no statement; add one with allow_*()")
        policy = ContainerPolicy(statements=self.statements)
        policy.to_json()  # enforces MediaStore's size and ASCII limits
        return policy


# --- the origin description ------------------------------------------------------------

#: The MediaStore origin description.
MEDIASTORE = register_origin(
    Origin(
        name="mediastore",
        label="an AWS Elemental MediaStore container",
        validate_path=validate_path,
        validate_content_type=validate_content_type,
        max_object_bytes=MAX_OBJECT_BYTES,
        max_streaming_bytes=MAX_STREAMING_BYTES,
        upload_deadline=UPLOAD_DEADLINE,
        requires_content_sha256=False,
        put_options=frozenset({"storage_class", "upload_availability"}),
        sigv4_service="mediastore",
        error_hints={
            "AccessDeniedException": (
                "the container policy refused the request: check that the distribution "
                "adds the User-Agent secret as an origin custom header, that the policy "
                "allows that secret (after a rotation both must carry the new one) and "
                "that the distribution talks to the container over HTTPS"
            ),
            "ContainerNotFoundException": "the container does not exist in this region",
            "ObjectNotFoundException": "no object at that path",
            "RequestEntityTooLargeException": (
                "the object is larger than MediaStore stores: 25 MiB, or 10 MiB with a "
                "streaming (chunked) upload"
            ),
            "ValidationException": (
                "MediaStore refused the path, the Content-Type (no parameters such as "
                "'; charset='), the storage class (TEMPORAL only) or the upload "
                "availability (STANDARD or STREAMING; STREAMING needs "
                "Transfer-Encoding: chunked)"
            ),
            "InvalidSignatureException": (
                "a request made straight to the container (not through CloudFront) has "
                "a SigV4 signature or payload hash that does not match"
            ),
            "PolicyNotFoundException": "the container has no container policy",
            "InternalServerError": "MediaStore failed on its side: the request is retried",
        },
        policy_type=ContainerPolicy,
        policy_builder=ContainerPolicyBuilder,
        object_arn=mediastore_object_arn,
    )
)
