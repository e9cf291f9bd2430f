"""Provision the AWS side of accelerated ingest, idempotently, with botocore.

Layer 6: the only module that changes AWS resources. It builds on botocore rather
than wrapping it: pass your own :class:`botocore.session.Session` (its credential
chain, profile, region and config are honoured) or ready-made clients.

What :meth:`Provisioner.apply` does, in order, each step *create*, *update* or
*reuse/unchanged*:

1. the MediaStore container (created if missing, then polled until ``ACTIVE``);
2. its container policy, CORS policy and object lifecycle policy (when the spec has them);
3. the CloudFront public key (``CreatePublicKey``; one with the same name and the same
   key is reused, the same name with a different key is an error);
4. the key group that trusts it (reused by name; the key is added when missing);
5. the ingest distribution and, optionally, the playback distribution. Their
   ``CallerReference`` is derived from the container name and the role, so a second
   run finds them again (and updates them if the wanted config changed).

With ``ProvisioningSpec(origin="s3", bucket_name=...)`` the origin is an S3 bucket
behind a CloudFront Origin Access Control instead, and no secret is involved: the S3
bucket (created in the region if missing), its public access block (all four on),
object ownership (``BucketOwnerEnforced``) and optional expiry rule; the OAC (reused by
name); the public key and key group; both distributions pointing at the bucket's REST
endpoint with the OAC; and last the bucket policy, which names the distributions' ARNs
and so can only be written once they exist.

:meth:`Provisioner.plan` is the dry run: it makes only read calls (``Describe*``,
``Get*``, ``Head*``, ``List*``) and returns the :class:`Plan` of what ``apply`` would do.
Running ``apply`` twice changes nothing the second time: its plan holds only
``reuse`` and ``unchanged`` steps.

Every botocore failure (``ClientError``, ``EndpointConnectionError``,
``NoCredentialsError``, ``ParamValidationError``, ``WaiterError``, ...) surfaces as a
:class:`~mediastore_ingest.errors.ProvisioningError` carrying ``operation`` and
``code``, chained with ``raise ... from``. Secrets are never logged and are
redacted from error messages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast
from urllib.parse import urlsplit

import attrs
from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives.asymmetric import rsa

from mediastore_ingest.distribution import (
    ingest_distribution_config,
    origin_access_control_config,
    playback_distribution_config,
    s3_origin_domain,
    validate_origin_domain,
)
from mediastore_ingest.errors import (
    ContainerPolicyError,
    DistributionConfigError,
    InvalidInputError,
    KeySizeWarning,
    ProvisioningError,
)
from mediastore_ingest.iam.document import ContainerPolicy
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.iam.secret import shown_hiding_secret as _shown
from mediastore_ingest.origins.mediastore import ContainerPolicyBuilder
from mediastore_ingest.origins.s3 import (
    S3_INGEST_ACTIONS,
    BucketPolicy,
    BucketPolicyBuilder,
    bucket_arn,
    check_bucket_name,
)
from mediastore_ingest.signing.keys import load_public_key

if TYPE_CHECKING:  # pragma: no cover
    import botocore.session

__all__ = [
    "INGEST_ACTIONS",
    "ContainerInfo",
    "IngestSetup",
    "Plan",
    "PlanStep",
    "Provisioner",
    "ProvisioningSpec",
    "live_cors_rules",
    "live_lifecycle_policy",
    "s3_expiry_rule",
    "secret_gated_container_policy",
]

logger = logging.getLogger(__name__)

_CONTAINER_NAME = re.compile(r"[\w-]{1,255}\Z", re.ASCII)
_CF_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}\Z")
_OAC_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")
_MAX_CONTAINER_POLICY = 8192
_MAX_KEYS_PER_GROUP = 5
_SETUP_FORMAT = "mediastore-ingest/setup"
_SETUP_VERSION = 1

Action = Literal["create", "update", "reuse", "unchanged"]
_Service = Literal["mediastore", "cloudfront", "s3"]
_Dist = tuple[str, str, str]  # distribution id, domain name, ARN
Role = Literal["ingest", "playback"]


class _SupportsToJson(Protocol):
    def to_json(self) -> str: ...  # pragma: no cover


# --- values --------------------------------------------------------------------------


def _str_items(value: object, what: str) -> list[str]:
    """One str, or an iterable (not bytes or a mapping) of str, as a list."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Iterable) or isinstance(value, (bytes, bytearray, Mapping)):
        raise InvalidInputError(
            f"{what} must be a str or an iterable of str, got {type(value).__name__}"
        )
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise InvalidInputError(f"{what} must hold str values, got {type(item).__name__}")
    return items


def _json_ok(text: str) -> str | None:
    """``None`` if ``text`` is JSON, else why not (never the text: it may hold a secret)."""
    try:
        json.loads(text)
    except RecursionError:
        return "it is nested too deeply"
    except ValueError as exc:  # JSONDecodeError, or an integer over Python's digit limit
        return str(exc)
    return None


@attrs.frozen
class ContainerInfo:
    """What is known about the MediaStore container once it exists.

    A callable ``container_policy`` in :class:`ProvisioningSpec` receives this, so a
    policy naming the container ARN or the account can be rendered after creation.
    """

    name: str
    arn: str
    endpoint: str
    region: str
    status: str
    account_id: str | None = None

    @property
    def origin_domain(self) -> str:
        """The data endpoint's host name: the distributions' origin domain."""
        return urlsplit(self.endpoint).hostname or ""


def _policy_source(
    value: object,
) -> str | Callable[[ContainerInfo], object] | None:
    if value is None or callable(value):
        return cast("Callable[[ContainerInfo], object] | None", value)
    return _policy_text(value)


def _policy_text(value: object) -> str:
    """Turn a policy given as str or as an object with ``to_json()`` into checked text."""
    if isinstance(value, str):
        text = value
    elif callable(getattr(value, "to_json", None)):
        text = cast(_SupportsToJson, value).to_json()
        if not isinstance(text, str):
            raise ContainerPolicyError("container_policy.to_json() did not return a str")
    else:
        raise ContainerPolicyError(
            "container_policy must be JSON text, a ContainerPolicy or a callable, "
            f"not {type(value).__name__}"
        )
    if not text.isascii() or not 1 <= len(text) <= _MAX_CONTAINER_POLICY:
        raise ContainerPolicyError(
            f"a container policy must be ASCII and 1-{_MAX_CONTAINER_POLICY} characters"
        )
    problem = _json_ok(text)
    if problem is not None:
        raise ContainerPolicyError(f"the container policy is not valid JSON: {problem}")
    return text


def _check_json_text(what: str, max_len: int) -> Callable[[Any, Any, str | None], None]:
    def check(instance: object, attribute: object, value: str | None) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not 1 <= len(value) <= max_len:
            raise InvalidInputError(f"{what} must be JSON text of 1-{max_len} characters")
        problem = _json_ok(value)
        if problem is not None:
            raise InvalidInputError(f"{what} is not valid JSON: {problem}")

    return check


def _cors_converter(value: object) -> tuple[dict[str, object], ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidInputError("cors_rules must be a sequence of CorsRule mappings")
    rules: list[dict[str, object]] = []
    for rule in value:
        if not isinstance(rule, Mapping) or "AllowedOrigins" not in rule:
            raise InvalidInputError("every CORS rule must be a mapping with AllowedOrigins")
        rules.append(dict(rule))
    if not 1 <= len(rules) <= 100:
        raise InvalidInputError("a CORS policy holds 1-100 rules")
    return tuple(rules)


def _check_container_name(instance: object, attribute: object, value: str | None) -> None:
    if value is None:
        return  # required for MediaStore origins; checked in ProvisioningSpec
    if not isinstance(value, str) or not _CONTAINER_NAME.match(value):
        raise InvalidInputError(
            f"container name must be 1-255 letters, digits, '_' or '-', got {_shown(value, 255)}"
        )


def _check_cf_name(instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not _CF_NAME.match(value)):
        raise InvalidInputError(
            f"{attribute.name} must be 1-128 letters, digits, '_' or '-', "
            f"got {_shown(value, 128)}"
        )


def _check_public_key(instance: object, attribute: object, value: str) -> None:
    if not isinstance(value, str) or "-----BEGIN PUBLIC KEY-----" not in value:
        raise InvalidInputError(
            "public_key_pem must be a PEM SubjectPublicKeyInfo "
            "('-----BEGIN PUBLIC KEY-----'), as CloudFront's CreatePublicKey expects"
        )
    with warnings.catch_warnings():
        # Legacy key pairs take RSA 1024/4096 (a warning); key groups do not (an error).
        warnings.simplefilter("ignore", KeySizeWarning)
        key = load_public_key(value.encode("ascii", "replace"))
    if isinstance(key, rsa.RSAPublicKey) and key.key_size != 2048:
        raise InvalidInputError(
            f"CloudFront key groups take RSA 2048 or ECDSA P-256 public keys, "
            f"not RSA {key.key_size}"
        )


def _check_bucket(instance: object, attribute: object, value: str | None) -> None:
    if value is not None:
        check_bucket_name(value)


def _check_days(instance: object, attribute: object, value: int | None) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value < 1
    ):
        raise InvalidInputError(f"expire_after_days must be an int >= 1, got {_shown(value)}")


def _check_oac_name(instance: object, attribute: object, value: str | None) -> None:
    if value is not None and (
        not isinstance(value, str) or not _OAC_NAME.match(value)
    ):
        raise InvalidInputError(
            "origin_access_control_name must be 1-64 letters, digits, '.', '_' or '-', "
            f"got {_shown(value)}"
        )


def _check_secret(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # Never the value: a str given here is the secret itself.
    if value is not None and not isinstance(value, IngestSecret):
        raise InvalidInputError(
            f"{attribute.name} must be an IngestSecret or None, got {type(value).__name__} "
            "(wrap the value: IngestSecret(value))"
        )


def _check_origin(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or value not in ("mediastore", "s3"):
        raise InvalidInputError(
            f"{attribute.name} must be 'mediastore' or 's3', got {_shown(value, 16)}"
        )


def _tags(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """``container_tags`` as a dict (from a mapping or key/value pairs) of str to str."""
    try:
        tags = dict(cast(Any, value))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            "container_tags must be a mapping (or key/value pairs) of str to str, "
            f"got {type(value).__name__}"
        ) from exc
    for key, tag in tags.items():
        if not isinstance(key, str) or not isinstance(tag, str):
            raise InvalidInputError(
                f"container_tags keys and values must be str, got "
                f"{type(key).__name__}: {type(tag).__name__}"
            )
    return tags


Origin = Literal["mediastore", "s3"]


@attrs.frozen
class ProvisioningSpec:
    """What to provision: one origin, its policies, one key, and the distributions.

    ``origin`` selects the origin type: ``"mediastore"`` (the default) provisions
    the MediaStore container ``container_name`` with ``ingest_secret`` (required)
    gating writes; ``"s3"`` provisions the S3 bucket ``bucket_name`` behind an Origin
    Access Control (see below).

    ``container_policy`` is JSON text, a ``ContainerPolicy`` (anything with
    ``to_json()``), or a callable taking the :class:`ContainerInfo` and returning
    either — use the callable when the policy needs the container ARN or account id.
    ``None`` leaves the container's policy alone.

    ``ingest_secret`` and ``playback_secret`` are used to build the distributions'
    ``User-Agent`` origin headers; they are never shown by ``repr`` and never written
    into an :class:`IngestSetup`.

    With ``origin="s3"``: the bucket (created in the provisioner's region if missing)
    gets all four public-access blocks and ``BucketOwnerEnforced`` object ownership;
    ``expire_after_days`` adds a lifecycle rule expiring objects under
    ``expire_prefix``; the Origin Access Control ``origin_access_control_name``
    (default ``<bucket>-oac``) signs both distributions' origin requests; and the
    bucket policy lets only the ingest distribution write (``s3:PutObject``,
    ``s3:DeleteObject``, ``s3:GetObject``) and only the playback distribution read,
    plus, with ``deny_insecure_transport``, a deny of plain-HTTP requests. Statements
    of an existing bucket policy with other Sids are kept. No secret is involved:
    ``ingest_secret``, ``playback_secret``, ``container_policy``, ``cors_rules``,
    ``lifecycle_policy`` and ``container_tags`` are MediaStore-only and refused.
    """

    container_name: str | None = attrs.field(default=None, validator=_check_container_name)
    public_key_pem: str = attrs.field(default="", validator=_check_public_key, repr=False)
    ingest_secret: IngestSecret | None = attrs.field(
        default=None, repr=False, validator=_check_secret
    )
    container_policy: str | Callable[[ContainerInfo], object] | None = attrs.field(
        default=None, converter=_policy_source, repr=False
    )
    playback: bool = True
    playback_secret: IngestSecret | None = attrs.field(
        default=None, repr=False, validator=_check_secret
    )
    playback_signed: bool = False
    cors_rules: tuple[dict[str, object], ...] | None = attrs.field(
        default=None, converter=_cors_converter
    )
    lifecycle_policy: str | None = attrs.field(
        default=None, validator=_check_json_text("lifecycle_policy", 8192)
    )
    public_key_name: str | None = attrs.field(default=None, validator=_check_cf_name)
    key_group_name: str | None = attrs.field(default=None, validator=_check_cf_name)
    price_class: str = "PriceClass_All"
    origin_read_timeout: int = 30
    origin_keepalive_timeout: int = 5
    container_tags: Mapping[str, str] = attrs.field(factory=dict, converter=_tags)
    origin: Origin = attrs.field(default="mediastore", kw_only=True, validator=_check_origin)
    bucket_name: str | None = attrs.field(default=None, kw_only=True, validator=_check_bucket)
    origin_access_control_name: str | None = attrs.field(
        default=None, kw_only=True, validator=_check_oac_name
    )
    expire_after_days: int | None = attrs.field(
        default=None, kw_only=True, validator=_check_days
    )
    expire_prefix: str = attrs.field(default="", kw_only=True)
    deny_insecure_transport: bool = attrs.field(default=True, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.origin == "s3":
            self._check_s3()
            return
        if self.container_name is None:
            raise InvalidInputError("a MediaStore origin needs container_name")
        if self.ingest_secret is None:
            raise InvalidInputError(
                "a MediaStore origin needs ingest_secret (the User-Agent secret the "
                "container policy requires for writes)"
            )
        for name in ("bucket_name", "origin_access_control_name", "expire_after_days"):
            if getattr(self, name) is not None:
                raise InvalidInputError(f"{name} is for origin='s3' only")
        if self.playback and self.playback_secret is None:
            raise InvalidInputError(
                "a playback distribution needs its own playback_secret "
                "(or pass playback=False)"
            )
        if (
            self.playback_secret is not None
            and self.playback_secret.value == self.ingest_secret.value
        ):
            raise DistributionConfigError(
                "the playback secret must differ from the ingest secret"
            )

    def _check_s3(self) -> None:
        if self.bucket_name is None:
            raise InvalidInputError("origin='s3' needs bucket_name")
        mediastore_only = {
            "container_name": self.container_name is not None,
            "ingest_secret": self.ingest_secret is not None,
            "playback_secret": self.playback_secret is not None,
            "container_policy": self.container_policy is not None,
            "cors_rules": self.cors_rules is not None,
            "lifecycle_policy": self.lifecycle_policy is not None,
            "container_tags": bool(self.container_tags),
        }
        given = [name for name, present in mediastore_only.items() if present]
        if given:
            raise InvalidInputError(
                f"{', '.join(given)}: MediaStore-only, not used with origin='s3' (an S3 "
                "origin is reached through an Origin Access Control, with no secret)"
            )
        if not isinstance(self.expire_prefix, str) or len(self.expire_prefix) > 1024:
            raise InvalidInputError("expire_prefix must be a str of at most 1024 characters")

    @property
    def name(self) -> str:
        """The origin's name: the container name, or the bucket name for S3."""
        name = self.bucket_name if self.origin == "s3" else self.container_name
        assert name is not None  # checked in __attrs_post_init__
        return name

    @property
    def _secret(self) -> IngestSecret:
        assert self.ingest_secret is not None  # required for MediaStore origins
        return self.ingest_secret

    @property
    def effective_public_key_name(self) -> str:
        """The CloudFront public key name (default ``<name>-ingest-key``)."""
        return self.public_key_name or _cf_name(f"{self.name}-ingest-key")

    @property
    def effective_key_group_name(self) -> str:
        """The key group name (default ``<name>-ingest``)."""
        return self.key_group_name or _cf_name(f"{self.name}-ingest")

    @property
    def effective_origin_access_control_name(self) -> str:
        """The Origin Access Control name for ``origin="s3"`` (default ``<bucket>-oac``)."""
        return self.origin_access_control_name or f"{self.name}-oac"[:64]

    def caller_reference(self, role: Role) -> str:
        """The deterministic ``CallerReference`` of the ``role`` distribution."""
        if self.origin == "s3":
            return f"mediastore-ingest:s3:{self.name}:{role}"
        return f"mediastore-ingest:{self.name}:{role}"

    def comment(self, role: Role) -> str:
        """The distribution ``Comment`` (at most 128 characters)."""
        where = f"s3://{self.name}" if self.origin == "s3" else self.name
        return f"mediastore-ingest {role}: {where}"[:128]


def _cf_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:128]


def live_lifecycle_policy(
    *, seconds: int = 300, wildcards: Sequence[str] = ("*",)
) -> str:
    """A MediaStore lifecycle policy with one *transient data* rule.

    Objects matching any of ``wildcards`` expire ``seconds`` (1-300, MediaStore's limit
    for transient rules) after they were written — right for live segments and
    manifests that no player asks for once they drop out of the playlist window.
    A single str is one pattern.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= 300:
        raise InvalidInputError(f"seconds must be an int from 1 to 300, got {_shown(seconds)}")
    paths = _str_items(wildcards, "wildcards")
    if not 1 <= len(paths) <= 10 or not all(paths):
        raise InvalidInputError("wildcards must be 1-10 non-empty path patterns")
    rule = {
        "definition": {
            "path": [{"wildcard": p} for p in paths],
            "seconds_since_create": [{"numeric": [">", seconds]}],
        },
        "action": "EXPIRE",
    }
    return json.dumps({"rules": [rule]}, separators=(",", ":"))


def live_cors_rules(
    allowed_origins: Sequence[str] = ("*",), *, max_age_seconds: int = 3000
) -> tuple[dict[str, object], ...]:
    """CORS rules letting browser players ``GET``/``HEAD`` from ``allowed_origins``
    (a single str is one origin)."""
    origins = _str_items(allowed_origins, "allowed_origins")
    if not origins or not all(origins):
        raise InvalidInputError("allowed_origins must be non-empty strings")
    if (
        isinstance(max_age_seconds, bool)
        or not isinstance(max_age_seconds, int)
        or max_age_seconds < 0
    ):
        raise InvalidInputError(
            f"max_age_seconds must be an int >= 0, got {_shown(max_age_seconds)}"
        )
    return (
        {
            "AllowedOrigins": origins,
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedHeaders": ["*"],
            "MaxAgeSeconds": max_age_seconds,
        },
    )


#: What encoders may do through the ingest distribution (PUT, DELETE, HEAD, GET).
INGEST_ACTIONS: tuple[str, ...] = (
    "mediastore:PutObject",
    "mediastore:DeleteObject",
    "mediastore:GetObject",
    "mediastore:DescribeObject",
)


def secret_gated_container_policy(
    *,
    ingest_secret: IngestSecret,
    playback_secret: IngestSecret | None = None,
    account_id: str | None = None,
    ingest_actions: Sequence[str] = INGEST_ACTIONS,
) -> Callable[[ContainerInfo], ContainerPolicy]:
    """A ``container_policy`` factory for :class:`ProvisioningSpec`.

    The policy it renders (once the container exists) grants the account full access
    over HTTPS, ``ingest_actions`` to requests carrying the ingest secret's
    ``User-Agent``, and — with ``playback_secret`` — reads to requests carrying the
    playback secret. ``account_id`` defaults to the one in the container ARN.
    """

    def render(info: ContainerInfo) -> ContainerPolicy:
        account = account_id or info.account_id
        if account is None:
            raise InvalidInputError(
                f"cannot tell the AWS account from the container ARN {info.arn!r}; "
                "pass account_id"
            )
        builder = (
            ContainerPolicyBuilder(region=info.region, account_id=account, container=info.name)
            .allow_account_full_access()
            .allow_cloudfront_ingest(ingest_secret, actions=tuple(ingest_actions))
        )
        if playback_secret is not None:
            builder = builder.allow_cloudfront_read(playback_secret)
        return builder.build()

    return render


@attrs.frozen
class PlanStep:
    """One resource in a :class:`Plan`: what would be (or was) done to it."""

    action: Action
    resource: str
    name: str
    detail: str = ""

    @property
    def changes(self) -> bool:
        """True for ``create`` and ``update``."""
        return self.action in ("create", "update")

    def __str__(self) -> str:
        text = f"{self.action:<9} {self.resource:<22} {self.name}"
        return f"{text}  ({self.detail})" if self.detail else text


@attrs.frozen
class Plan:
    """The ordered steps of a provisioning run; printable; computing it changed nothing.

    ``container_name`` is the origin's name: the bucket name when ``origin`` is ``"s3"``.
    """

    region: str
    container_name: str
    steps: tuple[PlanStep, ...]
    origin: str = "mediastore"

    @property
    def changes(self) -> tuple[PlanStep, ...]:
        """The steps that create or update something."""
        return tuple(s for s in self.steps if s.changes)

    @property
    def is_noop(self) -> bool:
        """True when applying would change nothing."""
        return not self.changes

    def __str__(self) -> str:
        what = "S3 bucket" if self.origin == "s3" else "container"
        head = f"Plan for {what} {self.container_name!r} in {self.region}:"
        lines = [head, *(f"  {step}" for step in self.steps)]
        tail = (
            "  nothing to change"
            if self.is_noop
            else f"  {len(self.changes)} change(s)"
        )
        return "\n".join([*lines, tail])


def _opt_str(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"{attribute.name} must be a str or None")


def _req_str(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{attribute.name} must be a non-empty str")


@attrs.frozen
class IngestSetup:
    """The identifiers of a provisioned ingest setup, for other commands to read.

    It holds no secret. ``ingest_secret_ref`` / ``playback_secret_ref`` are optional
    free-form *references* to where the secrets live (the CLI writes ``env:VAR``);
    the secret values themselves are never stored here.

    For an S3 origin (``origin == "s3"``) ``container_name``, ``container_arn`` and
    ``container_endpoint`` hold the bucket's name, ARN and REST endpoint
    (``https://<bucket>.s3.<region>.amazonaws.com``), and
    ``origin_access_control_id`` the OAC both distributions sign with.
    """

    container_name: str = attrs.field(validator=_req_str)
    container_arn: str = attrs.field(validator=_req_str)
    container_endpoint: str = attrs.field(validator=_req_str)
    region: str = attrs.field(validator=_req_str)
    public_key_id: str = attrs.field(validator=_req_str)
    key_group_id: str = attrs.field(validator=_req_str)
    ingest_distribution_id: str = attrs.field(validator=_req_str)
    ingest_distribution_domain: str = attrs.field(validator=_req_str)
    playback_distribution_id: str | None = attrs.field(default=None, validator=_opt_str)
    playback_distribution_domain: str | None = attrs.field(default=None, validator=_opt_str)
    account_id: str | None = attrs.field(default=None, validator=_opt_str)
    ingest_secret_ref: str | None = attrs.field(default=None, validator=_opt_str)
    playback_secret_ref: str | None = attrs.field(default=None, validator=_opt_str)
    origin: str = attrs.field(default="mediastore", validator=_check_origin)
    origin_access_control_id: str | None = attrs.field(default=None, validator=_opt_str)

    @property
    def bucket_name(self) -> str | None:
        """The S3 bucket name for an S3 origin, else ``None``."""
        return self.container_name if self.origin == "s3" else None

    @property
    def ingest_base_url(self) -> str:
        """``https://<ingest distribution domain>``: where encoders send signed PUTs."""
        return f"https://{self.ingest_distribution_domain}"

    @property
    def playback_base_url(self) -> str | None:
        """``https://<playback distribution domain>``, when there is one."""
        if self.playback_distribution_domain is None:
            return None
        return f"https://{self.playback_distribution_domain}"

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialise to JSON (with a ``format``/``version`` header)."""
        doc: dict[str, object] = {"format": _SETUP_FORMAT, "version": _SETUP_VERSION}
        doc.update(attrs.asdict(self))
        return json.dumps(doc, indent=indent, sort_keys=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> IngestSetup:
        """Parse what :meth:`to_json` wrote; unknown keys are ignored."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise InvalidInputError(
                f"an ingest setup must be JSON text (str or bytes), got {type(text).__name__}"
            )
        try:
            doc = json.loads(text)
        except RecursionError as exc:
            raise InvalidInputError(
                "an ingest setup must be JSON: it is nested too deeply"
            ) from exc
        except ValueError as exc:
            raise InvalidInputError(f"an ingest setup must be JSON: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format") != _SETUP_FORMAT:
            raise InvalidInputError(f"not an ingest setup document (format {_SETUP_FORMAT!r})")
        version = doc.get("version")
        if version != _SETUP_VERSION:
            raise InvalidInputError(
                f"unsupported ingest setup version {_shown(version, 16)} "
                f"(this library reads version {_SETUP_VERSION})"
            )
        names = [f.name for f in attrs.fields(cls)]
        missing = [f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING and
                   f.name not in doc]
        if missing:
            raise InvalidInputError(f"ingest setup lacks {', '.join(missing)}")
        return cls(**{k: doc[k] for k in names if k in doc})


# --- botocore plumbing -----------------------------------------------------------------

_NOT_FOUND_CONTAINER = ("ContainerNotFoundException", "ResourceNotFoundException")
_NO_POLICY = ("PolicyNotFoundException",)
_NO_CORS = ("CorsPolicyNotFoundException", "PolicyNotFoundException")


_NO_BUCKET = ("404", "NoSuchBucket", "NotFound")
_NO_PUBLIC_ACCESS_BLOCK = ("NoSuchPublicAccessBlockConfiguration",)
_NO_OWNERSHIP = ("OwnershipControlsNotFoundError",)
_NO_LIFECYCLE = ("NoSuchLifecycleConfiguration",)
_NO_BUCKET_POLICY = ("NoSuchBucketPolicy",)
_PUBLIC_ACCESS_BLOCK = (
    "BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"
)
_OAC_ESSENTIALS = ("SigningProtocol", "SigningBehavior", "OriginAccessControlOriginType")
_LIFECYCLE_RULE_ID = "mediastore-ingest-expire-live"


def s3_expiry_rule(days: int, *, prefix: str = "") -> dict[str, Any]:
    """The S3 lifecycle rule the provisioner owns (ID ``mediastore-ingest-expire-live``):
    objects under ``prefix`` (all objects for ``""``) expire ``days`` days after
    creation, and multipart uploads left incomplete are aborted after one day."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidInputError(f"days must be an int >= 1, got {days!r}")
    if not isinstance(prefix, str):
        raise InvalidInputError("prefix must be a str")
    return {
        "ID": _LIFECYCLE_RULE_ID,
        "Filter": {"Prefix": prefix},
        "Status": "Enabled",
        "Expiration": {"Days": days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }


def _rule_essentials(rule: Mapping[str, Any]) -> tuple[object, ...]:
    return (
        rule.get("Status"),
        (rule.get("Filter") or {}).get("Prefix", rule.get("Prefix", "")) or "",
        (rule.get("Expiration") or {}).get("Days"),
        (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation"),
    )


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and re.fullmatch(r"\d{12}", parts[4]) else None


def _partition_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        return str(code) if code else "ClientError"
    return type(exc).__name__


def _redact(text: str, secrets: Sequence[str]) -> str:
    for value in secrets:
        if value:
            text = text.replace(value, "<hidden>")
    return text


def _mentions(exc: BaseException, secrets: Sequence[str]) -> bool:
    """Whether a botocore error shows one of ``secrets`` (message, args, response)."""
    texts = (
        str(exc),
        repr(exc.args),
        repr(getattr(exc, "response", None)),
        repr(getattr(exc, "kwargs", None)),
    )
    return any(value and value in text for value in secrets for text in texts)


def _check_endpoint(url: object, service: str | None) -> str:
    """A URL botocore will take: a str with a host name (botocore's own test)."""
    try:
        ok = isinstance(url, str) and urlsplit(url).hostname is not None
    except ValueError:  # e.g. an unclosed IPv6 bracket
        ok = False
    if not ok:
        got = "a str without a host name" if isinstance(url, str) else type(url).__name__
        raise InvalidInputError(
            f"endpoint_url{'' if service is None else f' for {service}'} must be a URL "
            "with a host name, such as "
            f"'https://127.0.0.1:5000', got {got}"
        )
    return cast(str, url)


class Provisioner:
    """Plan and apply an ingest setup with botocore.

    ``session`` is your :class:`botocore.session.Session` (default: a new session,
    which follows the usual credential chain). ``region`` is the MediaStore (or S3
    bucket) region (default: the session's region). ``endpoint_url`` overrides the
    endpoint, either one URL for every service or a mapping
    ``{"mediastore": url, "cloudfront": url, "s3": url}``. Or pass ready clients as
    ``mediastore_client`` / ``cloudfront_client`` / ``s3_client``. Clients are created
    on first use, so an S3 setup never creates a MediaStore client.

    ``sleep``, ``poll_interval`` and ``max_polls`` govern waiting for the container
    to become ``ACTIVE`` (and for distributions to deploy when asked to).
    """

    def __init__(
        self,
        session: botocore.session.Session | None = None,
        *,
        region: str | None = None,
        endpoint_url: str | Mapping[str, str] | None = None,
        mediastore_client: Any = None,
        cloudfront_client: Any = None,
        s3_client: Any = None,
        client_config: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 5.0,
        max_polls: int = 60,
    ) -> None:
        if region is None:
            if mediastore_client is not None:
                region = mediastore_client.meta.region_name
            elif s3_client is not None:
                region = s3_client.meta.region_name
            else:
                if session is None:
                    import botocore.session as _bs

                    session = _bs.get_session()
                region = session.get_config_variable("region")
        if not isinstance(region, str) or not region:
            raise InvalidInputError(
                "no region: pass region=... or configure one in the botocore session"
            )
        if isinstance(max_polls, bool) or not isinstance(max_polls, int) or max_polls < 1:
            raise InvalidInputError("max_polls must be an int >= 1")
        if not callable(sleep):
            raise InvalidInputError(f"sleep must be a callable, got {type(sleep).__name__}")
        if (
            isinstance(poll_interval, bool)
            or not isinstance(poll_interval, (int, float))
            or not poll_interval >= 0
        ):
            raise InvalidInputError("poll_interval must be a number of seconds >= 0")
        self.region = region
        self._sleep = sleep
        self._poll_interval = poll_interval
        self._max_polls = max_polls
        self._secrets: tuple[str, ...] = ()
        urls: Mapping[str, str]
        if endpoint_url is None:
            urls = {}
        elif isinstance(endpoint_url, str):
            url = _check_endpoint(endpoint_url, None)
            urls = {"mediastore": url, "cloudfront": url, "s3": url}
        elif isinstance(endpoint_url, (Mapping, list, tuple)):
            try:
                given = dict(endpoint_url)  # a mapping, or (service name, URL) pairs
            except (TypeError, ValueError):
                raise InvalidInputError(
                    "endpoint_url pairs must be (service name, URL)"
                ) from None
            urls = {  # None: that service's default endpoint (as os.environ.get gives)
                str(name): _check_endpoint(url, str(name))
                for name, url in given.items()
                if url is not None
            }
        else:
            raise InvalidInputError(
                "endpoint_url must be a URL, a mapping of service name to URL, or None, "
                f"got {type(endpoint_url).__name__}"
            )
        self._session = session
        self._urls = urls
        self._client_config = client_config
        # CloudFront is global; botocore routes any region to its global endpoint.
        self._clients: dict[str, Any] = {
            name: client
            for name, client in (
                ("mediastore", mediastore_client),
                ("cloudfront", cloudfront_client),
                ("s3", s3_client),
            )
            if client is not None
        }

    def _client(self, service: _Service) -> Any:
        client = self._clients.get(service)
        if client is not None:
            return client
        if self._session is None:
            import botocore.session as _bs

            self._session = _bs.get_session()
        try:
            client = self._session.create_client(
                service,
                region_name=self.region,
                endpoint_url=self._urls.get(service),
                config=self._client_config,
            )
        except BotoCoreError as exc:
            raise ProvisioningError(
                f"cannot create the {service} client: {exc}",
                operation="CreateClient",
                code=type(exc).__name__,
            ) from exc
        except ValueError as exc:  # botocore's "Invalid endpoint: ..."
            raise InvalidInputError(f"cannot create the {service} client: {exc}") from exc
        self._clients[service] = client
        return client

    # -- public API -----------------------------------------------------------------

    def plan(self, spec: ProvisioningSpec) -> Plan:
        """Work out what :meth:`apply` would do, making only read-only AWS calls."""
        steps, _ = self._run(spec, execute=False)
        return Plan(
            region=self.region, container_name=spec.name, steps=steps, origin=spec.origin
        )

    def apply(
        self, spec: ProvisioningSpec, *, wait_for_deployment: bool = False
    ) -> IngestSetup:
        """Create or update whatever the plan says, and return the resulting setup.

        With ``wait_for_deployment`` the distributions are polled until
        ``Deployed`` (bounded by ``max_polls``).
        """
        return self.apply_with_plan(spec, wait_for_deployment=wait_for_deployment)[1]

    def apply_with_plan(
        self, spec: ProvisioningSpec, *, wait_for_deployment: bool = False
    ) -> tuple[Plan, IngestSetup]:
        """Like :meth:`apply`, also returning the plan of what was actually done."""
        steps, setup = self._run(spec, execute=True, wait=wait_for_deployment)
        assert setup is not None
        plan = Plan(
            region=self.region, container_name=spec.name, steps=steps, origin=spec.origin
        )
        return plan, setup

    # -- engine ---------------------------------------------------------------------

    def _run(
        self, spec: ProvisioningSpec, *, execute: bool, wait: bool = False
    ) -> tuple[tuple[PlanStep, ...], IngestSetup | None]:
        if spec.origin == "s3":
            return self._run_s3(spec, execute=execute, wait=wait)
        secrets = [spec._secret.value]
        if spec.playback_secret is not None:
            secrets.append(spec.playback_secret.value)
        self._secrets = tuple(secrets)
        steps: list[PlanStep] = []
        try:
            info = self._container(spec, execute, steps)
            self._container_policy(spec, info, execute, steps)
            self._cors(spec, info, execute, steps)
            self._lifecycle(spec, info, execute, steps)
            key_id = self._public_key(spec, execute, steps)
            group_id = self._key_group(spec, key_id, execute, steps)
            origin = info.origin_domain if info is not None and info.status == "ACTIVE" else None
            ingest = self._distribution(spec, "ingest", origin, None, group_id, execute, steps)
            playback = None
            if spec.playback:
                playback = self._distribution(
                    spec, "playback", origin, None, group_id, execute, steps
                )
            if wait:
                for dist in (ingest, playback):
                    if dist is not None:
                        self._wait_deployed(dist[0])
        finally:
            self._secrets = ()
        for step in steps:
            logger.info("%s %s: %s", "applied" if execute else "planned", spec.name, step)
        if not execute:
            return tuple(steps), None
        assert info is not None
        assert key_id is not None
        assert group_id is not None
        assert ingest is not None
        return tuple(steps), IngestSetup(
            container_name=info.name,
            container_arn=info.arn,
            container_endpoint=info.endpoint,
            region=self.region,
            account_id=info.account_id,
            public_key_id=key_id,
            key_group_id=group_id,
            ingest_distribution_id=ingest[0],
            ingest_distribution_domain=ingest[1],
            playback_distribution_id=playback[0] if playback else None,
            playback_distribution_domain=playback[1] if playback else None,
        )

    def _call(
        self,
        service: _Service,
        operation: str,
        *,
        absent: Sequence[str] = (),
        **params: object,
    ) -> dict[str, Any] | None:
        """Call ``operation``; ``None`` when the error code is one of ``absent``."""
        client = self._client(service)
        method = getattr(client, xform_name(operation))
        failure: tuple[Exception, str, str]
        try:
            result: dict[str, Any] = method(**params)
        except ClientError as exc:
            code = _error_code(exc)
            if code in absent:
                return None
            message = exc.response.get("Error", {}).get("Message") or str(exc)
            failure = (exc, code, f"{service} {operation} failed: {code}: {message}")
        except BotoCoreError as exc:
            code = type(exc).__name__
            failure = (exc, code, f"{service} {operation} failed: {code}: {exc}")
        else:
            return result
        cause, code, text = failure
        error = ProvisioningError(
            _redact(text, self._secrets), operation=operation, code=code
        )
        if _mentions(cause, self._secrets):
            # Raised outside the handler and not chained: the botocore error shows a
            # secret (AWS echoes the User-Agent), and __cause__ or __context__ would
            # print it with the traceback. The message keeps the operation and code.
            raise error
        raise error from cause

    def _poll(self, what: str, check: Callable[[], bool]) -> None:
        for attempt in range(self._max_polls):
            if check():
                return
            if attempt + 1 < self._max_polls:
                self._sleep(self._poll_interval)
        raise ProvisioningError(
            f"gave up waiting for {what} after {self._max_polls} polls",
            operation="Wait",
            code="WaitTimeout",
        )

    # -- MediaStore -----------------------------------------------------------------

    def _describe(self, name: str) -> ContainerInfo | None:
        out = self._call(
            "mediastore", "DescribeContainer", absent=_NOT_FOUND_CONTAINER, ContainerName=name
        )
        if out is None:
            return None
        c = out["Container"]
        arn = str(c.get("ARN", ""))
        parts = arn.split(":")
        account = parts[4] if len(parts) > 5 and parts[4].isdigit() else None
        return ContainerInfo(
            name=str(c.get("Name", name)),
            arn=arn,
            endpoint=str(c.get("Endpoint", "")),
            region=self.region,
            status=str(c.get("Status", "")),
            account_id=account,
        )

    def _container(
        self, spec: ProvisioningSpec, execute: bool, steps: list[PlanStep]
    ) -> ContainerInfo | None:
        name = spec.name
        info = self._describe(name)
        if info is None:
            steps.append(PlanStep("create", "mediastore container", name))
            if not execute:
                return None
            tags = [{"Key": k, "Value": v} for k, v in sorted(spec.container_tags.items())]
            params: dict[str, Any] = {"ContainerName": name}
            if tags:
                params["Tags"] = tags
            self._call("mediastore", "CreateContainer", **params)
        else:
            if info.status == "DELETING":
                raise ProvisioningError(
                    f"container {name!r} is being deleted; try again once it is gone",
                    operation="DescribeContainer",
                    code="ContainerDeleting",
                )
            steps.append(PlanStep("reuse", "mediastore container", name, info.status.lower()))
            if info.status == "ACTIVE" or not execute:
                return self._checked(info)

        current: list[ContainerInfo] = []

        def active() -> bool:
            found = self._describe(name)
            if found is not None and found.status == "ACTIVE":
                current.append(found)
                return True
            return False

        self._poll(f"container {name!r} to become ACTIVE", active)
        return self._checked(current[-1])

    @staticmethod
    def _checked(info: ContainerInfo) -> ContainerInfo:
        if info.status != "ACTIVE":
            return info
        try:
            validate_origin_domain(info.origin_domain)
        except DistributionConfigError as exc:
            raise ProvisioningError(
                f"container {info.name!r} has an endpoint that is not an https URL "
                f"with a host name: {info.endpoint!r}",
                operation="DescribeContainer",
                code="UnexpectedEndpoint",
            ) from exc
        return info

    def _container_policy(
        self,
        spec: ProvisioningSpec,
        info: ContainerInfo | None,
        execute: bool,
        steps: list[PlanStep],
    ) -> None:
        source = spec.container_policy
        if source is None:
            return
        wanted = _policy_text(source(info)) if callable(source) and info else source
        self._sub_policy(spec.name, info, execute, steps, "container policy",
                         "ContainerPolicy", "Policy", _NO_POLICY, wanted, _compare_json)

    def _cors(
        self,
        spec: ProvisioningSpec,
        info: ContainerInfo | None,
        execute: bool,
        steps: list[PlanStep],
    ) -> None:
        if spec.cors_rules is None:
            return
        wanted = [dict(rule) for rule in spec.cors_rules]
        self._sub_policy(spec.name, info, execute, steps, "CORS policy",
                         "CorsPolicy", "CorsPolicy", _NO_CORS, wanted, _compare_canonical)

    def _lifecycle(
        self,
        spec: ProvisioningSpec,
        info: ContainerInfo | None,
        execute: bool,
        steps: list[PlanStep],
    ) -> None:
        if spec.lifecycle_policy is None:
            return
        self._sub_policy(spec.name, info, execute, steps, "lifecycle policy",
                         "LifecyclePolicy", "LifecyclePolicy", _NO_POLICY,
                         spec.lifecycle_policy, _compare_json)

    def _sub_policy(
        self,
        name: str,
        info: ContainerInfo | None,
        execute: bool,
        steps: list[PlanStep],
        label: str,
        operation: str,
        field: str,
        absent: Any,
        wanted: Any,
        compare: Callable[[Any, Any], Action],
    ) -> None:
        """One of a container's policies: Get<operation>, compare, Put<operation>."""
        if info is None:
            steps.append(PlanStep("create", label, name))
            return
        current = self._call("mediastore", "Get" + operation, absent=absent, ContainerName=name)
        action = compare(wanted, current and current.get(field))
        steps.append(PlanStep(action, label, name))
        if execute and action in ("create", "update"):
            self._call("mediastore", "Put" + operation, ContainerName=name, **{field: wanted})

    # -- CloudFront keys ------------------------------------------------------------

    def _list(self, operation: str, list_key: str) -> Iterator[dict[str, Any]]:
        marker: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {}
            if marker:
                params["Marker"] = marker
            out = self._call("cloudfront", operation, **params) or {}
            page = out.get(list_key) or {}
            yield from page.get("Items") or []
            marker = page.get("NextMarker")
            if not marker or marker in seen:
                return
            seen.add(marker)

    def _public_key(
        self, spec: ProvisioningSpec, execute: bool, steps: list[PlanStep]
    ) -> str | None:
        name = spec.effective_public_key_name
        wanted = spec.public_key_pem
        for item in self._list("ListPublicKeys", "PublicKeyList"):
            if item.get("Name") != name:
                continue
            if _pem_body(str(item.get("EncodedKey", ""))) != _pem_body(wanted):
                raise ProvisioningError(
                    f"CloudFront public key {name!r} ({item.get('Id')}) exists with a "
                    "different key; choose another public_key_name or delete the old key",
                    operation="CreatePublicKey",
                    code="PublicKeyMismatch",
                )
            steps.append(PlanStep("reuse", "public key", name, str(item.get("Id"))))
            return str(item["Id"])
        steps.append(PlanStep("create", "public key", name))
        if not execute:
            return None
        digest = hashlib.sha256(_pem_body(wanted).encode()).hexdigest()[:16]
        out = self._call(
            "cloudfront",
            "CreatePublicKey",
            PublicKeyConfig={
                "CallerReference": f"mediastore-ingest:{name}:{digest}",
                "Name": name,
                "EncodedKey": wanted,
                "Comment": f"mediastore-ingest: {spec.name}"[:128],
            },
        )
        assert out is not None
        return str(out["PublicKey"]["Id"])

    def _key_group(
        self,
        spec: ProvisioningSpec,
        key_id: str | None,
        execute: bool,
        steps: list[PlanStep],
    ) -> str | None:
        name = spec.effective_key_group_name
        for item in self._list("ListKeyGroups", "KeyGroupList"):
            group = item.get("KeyGroup") or {}
            config = group.get("KeyGroupConfig") or {}
            if config.get("Name") != name:
                continue
            group_id = str(group["Id"])
            items = list(config.get("Items") or [])
            if key_id is not None and key_id in items:
                steps.append(PlanStep("reuse", "key group", name, group_id))
                return group_id
            if len(items) >= _MAX_KEYS_PER_GROUP:
                raise ProvisioningError(
                    f"key group {name!r} already holds {_MAX_KEYS_PER_GROUP} keys; "
                    "remove one before adding the ingest key",
                    operation="UpdateKeyGroup",
                    code="TooManyPublicKeysInKeyGroup",
                )
            steps.append(PlanStep("update", "key group", name, f"{group_id}: add public key"))
            if execute:
                assert key_id is not None
                current = self._call("cloudfront", "GetKeyGroup", Id=group_id)
                assert current is not None
                new_config = dict(current["KeyGroup"]["KeyGroupConfig"])
                new_config["Items"] = [*items, key_id]
                self._call(
                    "cloudfront",
                    "UpdateKeyGroup",
                    Id=group_id,
                    IfMatch=current["ETag"],
                    KeyGroupConfig=new_config,
                )
            return group_id
        steps.append(PlanStep("create", "key group", name))
        if not execute:
            return None
        assert key_id is not None
        out = self._call(
            "cloudfront",
            "CreateKeyGroup",
            KeyGroupConfig={
                "Name": name,
                "Items": [key_id],
                "Comment": f"mediastore-ingest: {spec.name}"[:128],
            },
        )
        assert out is not None
        return str(out["KeyGroup"]["Id"])

    # -- CloudFront distributions ---------------------------------------------------

    def _wanted_config(
        self, spec: ProvisioningSpec, role: Role, origin: str, oac_id: str | None,
        group_id: str,
    ) -> dict[str, object]:
        common: dict[str, Any] = {
            "origin_domain": origin,
            "caller_reference": spec.caller_reference(role),
            "comment": spec.comment(role),
            "price_class": spec.price_class,
            "origin_read_timeout": spec.origin_read_timeout,
            "origin_keepalive_timeout": spec.origin_keepalive_timeout,
        }
        if spec.origin == "s3":
            common["origin_access_control_id"] = oac_id
            if role == "ingest":
                return ingest_distribution_config(secret=None, key_group_id=group_id, **common)
            return playback_distribution_config(
                secret=None, key_group_id=group_id if spec.playback_signed else None, **common
            )
        if role == "ingest":
            return ingest_distribution_config(
                secret=spec.ingest_secret, key_group_id=group_id, **common
            )
        return playback_distribution_config(
            secret=spec.playback_secret,
            ingest_secret=spec.ingest_secret,
            key_group_id=group_id if spec.playback_signed else None,
            **common,
        )

    def _find_distribution(
        self, reference: str, comment: str, origin: str | None
    ) -> tuple[_Dist, dict[str, Any], str] | None:
        """Find a distribution by CallerReference: ``((id, domain, arn), config, etag)``."""
        for summary in self._list("ListDistributions", "DistributionList"):
            if not _may_be(summary, comment, origin):
                continue
            out = self._call("cloudfront", "GetDistributionConfig", Id=summary["Id"])
            assert out is not None
            config = out["DistributionConfig"]
            if config.get("CallerReference") == reference:
                dist = (str(summary["Id"]), str(summary["DomainName"]), str(summary["ARN"]))
                return dist, config, str(out["ETag"])
        return None

    def _distribution(
        self,
        spec: ProvisioningSpec,
        role: Role,
        origin: str | None,
        oac_id: str | None,
        group_id: str | None,
        execute: bool,
        steps: list[PlanStep],
    ) -> _Dist | None:
        """Create, update or reuse the ``role`` distribution in front of ``origin``
        (``None`` in a dry run before the origin exists); ``(id, domain, arn)``."""
        resource = f"{role} distribution"
        reference = spec.caller_reference(role)
        found = self._find_distribution(reference, spec.comment(role), origin)
        if origin is None or group_id is None or (spec.origin == "s3" and oac_id is None):
            # Dry run before the container or key group exists: nothing to compare.
            action: Action = "update" if found else "create"
            detail = "config depends on resources created above"
            steps.append(PlanStep(action, resource, reference, detail))
            return None
        wanted = self._wanted_config(spec, role, origin, oac_id, group_id)
        if found is None:
            steps.append(PlanStep("create", resource, reference))
            if not execute:
                return None
            out = self._call(
                "cloudfront",
                "CreateDistributionWithTags",
                DistributionConfigWithTags={
                    "DistributionConfig": wanted,
                    "Tags": {
                        "Items": [
                            {
                                "Key": "mediastore-ingest:"
                                + ("bucket" if spec.origin == "s3" else "container"),
                                "Value": spec.name,
                            },
                            {"Key": "mediastore-ingest:role", "Value": role},
                        ]
                    },
                },
            )
            assert out is not None
            created = out["Distribution"]
            return str(created["Id"]), str(created["DomainName"]), str(created["ARN"])
        (dist_id, domain, arn), current, etag = found
        differences = _differences(wanted, current)
        if not differences:
            steps.append(PlanStep("reuse", resource, reference, dist_id))
            return dist_id, domain, arn
        steps.append(
            PlanStep("update", resource, reference, f"{dist_id}: {', '.join(differences)}")
        )
        if execute:
            out = self._call(
                "cloudfront",
                "UpdateDistribution",
                Id=dist_id,
                IfMatch=etag,
                DistributionConfig=wanted,
            )
            assert out is not None
            domain = str(out["Distribution"]["DomainName"])
        return dist_id, domain, arn

    def _wait_deployed(self, dist_id: str) -> None:
        def deployed() -> bool:
            out = self._call("cloudfront", "GetDistribution", Id=dist_id)
            return out is not None and out["Distribution"].get("Status") == "Deployed"

        self._poll(f"distribution {dist_id} to deploy", deployed)


    # -- S3 origin behind an Origin Access Control ------------------------------------

    def _run_s3(
        self, spec: ProvisioningSpec, *, execute: bool, wait: bool
    ) -> tuple[tuple[PlanStep, ...], IngestSetup | None]:
        self._secrets = ()
        steps: list[PlanStep] = []
        bucket = spec.name
        exists = self._bucket(spec, execute, steps)
        self._public_access_block(bucket, exists, execute, steps)
        self._ownership_controls(bucket, exists, execute, steps)
        self._bucket_lifecycle(spec, exists, execute, steps)
        oac_id = self._origin_access_control(spec, execute, steps)
        key_id = self._public_key(spec, execute, steps)
        group_id = self._key_group(spec, key_id, execute, steps)
        origin = s3_origin_domain(bucket, self.region)
        ingest = self._distribution(spec, "ingest", origin, oac_id, group_id, execute, steps)
        playback = None
        if spec.playback:
            playback = self._distribution(
                spec, "playback", origin, oac_id, group_id, execute, steps
            )
        # Only now do the distribution ARNs exist for the policy to name.
        self._bucket_policy(spec, exists, ingest, playback, execute, steps)
        if wait:
            for dist in (ingest, playback):
                if dist is not None:
                    self._wait_deployed(dist[0])
        for step in steps:
            logger.info("%s %s: %s", "applied" if execute else "planned", bucket, step)
        if not execute:
            return tuple(steps), None
        assert key_id is not None
        assert group_id is not None
        assert ingest is not None
        return tuple(steps), IngestSetup(
            container_name=bucket,
            container_arn=bucket_arn(bucket, partition=_partition_of(ingest[2])),
            container_endpoint=f"https://{origin}",
            region=self.region,
            account_id=_account_of(ingest[2]),
            public_key_id=key_id,
            key_group_id=group_id,
            ingest_distribution_id=ingest[0],
            ingest_distribution_domain=ingest[1],
            playback_distribution_id=playback[0] if playback else None,
            playback_distribution_domain=playback[1] if playback else None,
            origin="s3",
            origin_access_control_id=oac_id,
        )

    def _bucket(self, spec: ProvisioningSpec, execute: bool, steps: list[PlanStep]) -> bool:
        """Create the bucket if missing; True when it exists (before or after)."""
        bucket = spec.name
        try:
            found = self._call("s3", "HeadBucket", absent=_NO_BUCKET, Bucket=bucket)
        except ProvisioningError as exc:
            if exc.code not in ("403", "AccessDenied", "Forbidden"):
                raise
            raise ProvisioningError(
                f"bucket {bucket!r} exists but this account may not use it (it belongs to "
                "another account, or the credentials lack s3:ListBucket on it)",
                operation="HeadBucket",
                code=exc.code,
            ) from exc.__cause__
        if found is not None:
            where = self._call("s3", "GetBucketLocation", Bucket=bucket) or {}
            # us-east-1 answers no constraint; "EU" is the legacy name of eu-west-1.
            region = where.get("LocationConstraint") or "us-east-1"
            region = "eu-west-1" if region == "EU" else region
            if region != self.region:
                raise ProvisioningError(
                    f"bucket {bucket!r} is in {region}, not in {self.region}; provision "
                    f"with region={region!r} or choose another bucket",
                    operation="GetBucketLocation",
                    code="BucketRegionMismatch",
                )
            steps.append(PlanStep("reuse", "s3 bucket", bucket, region))
            return True
        steps.append(PlanStep("create", "s3 bucket", bucket, self.region))
        if not execute:
            return False
        params: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":
            # us-east-1 refuses an explicit LocationConstraint; every other region needs it.
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self._call("s3", "CreateBucket", **params)
        return True

    def _public_access_block(
        self, bucket: str, exists: bool, execute: bool, steps: list[PlanStep]
    ) -> None:
        wanted = dict.fromkeys(_PUBLIC_ACCESS_BLOCK, True)
        action: Action = "create"
        if exists:
            current = self._call(
                "s3", "GetPublicAccessBlock", absent=_NO_PUBLIC_ACCESS_BLOCK, Bucket=bucket
            )
            if current is not None:
                config = current.get("PublicAccessBlockConfiguration") or {}
                same = all(config.get(name) is True for name in _PUBLIC_ACCESS_BLOCK)
                action = "unchanged" if same else "update"
        steps.append(PlanStep(action, "public access block", bucket, "all four blocks on"))
        if execute and action != "unchanged":
            self._call(
                "s3", "PutPublicAccessBlock", Bucket=bucket,
                PublicAccessBlockConfiguration=wanted,
            )

    def _ownership_controls(
        self, bucket: str, exists: bool, execute: bool, steps: list[PlanStep]
    ) -> None:
        action: Action = "create"
        if exists:
            current = self._call(
                "s3", "GetBucketOwnershipControls", absent=_NO_OWNERSHIP, Bucket=bucket
            )
            if current is not None:
                rules = (current.get("OwnershipControls") or {}).get("Rules") or []
                same = [r.get("ObjectOwnership") for r in rules] == ["BucketOwnerEnforced"]
                action = "unchanged" if same else "update"
        steps.append(PlanStep(action, "object ownership", bucket, "BucketOwnerEnforced"))
        if execute and action != "unchanged":
            self._call(
                "s3", "PutBucketOwnershipControls", Bucket=bucket,
                OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            )

    def _bucket_lifecycle(
        self, spec: ProvisioningSpec, exists: bool, execute: bool, steps: list[PlanStep]
    ) -> None:
        days = spec.expire_after_days
        if days is None:
            return
        bucket = spec.name
        ours = s3_expiry_rule(days, prefix=spec.expire_prefix)
        others: list[dict[str, Any]] = []
        action: Action = "create"
        if exists:
            current = self._call(
                "s3", "GetBucketLifecycleConfiguration", absent=_NO_LIFECYCLE, Bucket=bucket
            )
            rules = list((current or {}).get("Rules") or [])
            others = [r for r in rules if r.get("ID") != _LIFECYCLE_RULE_ID]
            mine = [r for r in rules if r.get("ID") == _LIFECYCLE_RULE_ID]
            if mine:
                same = _rule_essentials(mine[0]) == _rule_essentials(ours)
                action = "unchanged" if same else "update"
            elif rules:
                action = "update"
        detail = f"expire {spec.expire_prefix or 'all objects'} after {days} day(s)"
        steps.append(PlanStep(action, "lifecycle rule", bucket, detail))
        if execute and action != "unchanged":
            self._call(
                "s3", "PutBucketLifecycleConfiguration", Bucket=bucket,
                LifecycleConfiguration={"Rules": [*others, ours]},
            )

    def _origin_access_control(
        self, spec: ProvisioningSpec, execute: bool, steps: list[PlanStep]
    ) -> str | None:
        name = spec.effective_origin_access_control_name
        wanted = origin_access_control_config(
            name, origin_type="s3", description=f"mediastore-ingest: s3://{spec.name}"[:256]
        )
        for item in self._list("ListOriginAccessControls", "OriginAccessControlList"):
            if item.get("Name") != name:
                continue
            oac_id = str(item["Id"])
            different = [
                key for key in _OAC_ESSENTIALS if item.get(key) != wanted[key]
            ]
            if not different:
                steps.append(PlanStep("reuse", "origin access control", name, oac_id))
                return oac_id
            steps.append(PlanStep(
                "update", "origin access control", name, f"{oac_id}: {', '.join(different)}"
            ))
            if execute:
                current = self._call("cloudfront", "GetOriginAccessControl", Id=oac_id)
                assert current is not None
                self._call(
                    "cloudfront", "UpdateOriginAccessControl", Id=oac_id,
                    IfMatch=current["ETag"], OriginAccessControlConfig=wanted,
                )
            return oac_id
        steps.append(PlanStep("create", "origin access control", name))
        if not execute:
            return None
        out = self._call(
            "cloudfront", "CreateOriginAccessControl", OriginAccessControlConfig=wanted
        )
        assert out is not None
        return str(out["OriginAccessControl"]["Id"])

    def _bucket_policy(
        self,
        spec: ProvisioningSpec,
        exists: bool,
        ingest: _Dist | None,
        playback: _Dist | None,
        execute: bool,
        steps: list[PlanStep],
    ) -> None:
        bucket = spec.name
        current_text: str | None = None
        if exists:
            current = self._call("s3", "GetBucketPolicy", absent=_NO_BUCKET_POLICY, Bucket=bucket)
            current_text = None if current is None else str(current.get("Policy") or "")
        if ingest is None or (spec.playback and playback is None):
            action: Action = "create" if current_text is None else "update"
            steps.append(PlanStep(action, "bucket policy", bucket,
                                  "needs the ARNs of the distributions created above"))
            return
        wanted = self._wanted_bucket_policy(spec, ingest[2], playback and playback[2])
        kept: tuple[Any, ...] = ()
        if current_text is not None:
            try:
                existing = BucketPolicy.from_json(current_text)
            except ContainerPolicyError as exc:
                raise ProvisioningError(
                    f"the current policy of bucket {bucket!r} cannot be merged: {exc}",
                    operation="GetBucketPolicy",
                    code="UnparseableBucketPolicy",
                ) from exc
            ours = {st.sid for st in wanted.statements}
            kept = tuple(st for st in existing.statements if st.sid not in ours)
        if kept:
            wanted = BucketPolicy(statements=(*kept, *wanted.statements))
        text = wanted.to_json()
        action = "create" if current_text is None else _compare_json(text, current_text)
        detail = f"{len(kept)} other statement(s) kept" if kept else ""
        steps.append(PlanStep(action, "bucket policy", bucket, detail))
        if execute and action != "unchanged":
            self._call("s3", "PutBucketPolicy", Bucket=bucket, Policy=text)

    @staticmethod
    def _wanted_bucket_policy(
        spec: ProvisioningSpec, ingest_arn: str, playback_arn: str | None
    ) -> BucketPolicy:
        account = _account_of(ingest_arn)
        if account is None:
            raise ProvisioningError(
                f"unexpected distribution ARN {ingest_arn!r}",
                operation="CreateDistribution",
                code="UnexpectedArn",
            )
        builder = BucketPolicyBuilder(
            bucket=spec.name, account_id=account, partition=_partition_of(ingest_arn)
        ).allow_cloudfront_ingest(ingest_arn, actions=S3_INGEST_ACTIONS)
        if playback_arn is not None:
            builder = builder.allow_cloudfront_read(playback_arn)
        if spec.deny_insecure_transport:
            builder = builder.deny_insecure_transport()
        return builder.build()


# --- comparison helpers ----------------------------------------------------------------


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _compare_canonical(wanted: object, current: object) -> Action:
    if current is None:
        return "create"
    return "unchanged" if _canonical(current) == _canonical(wanted) else "update"


def _compare_json(wanted: str, current: object) -> Action:
    if current is None:
        return "create"
    try:
        same = json.loads(str(current)) == json.loads(wanted)
    except (ValueError, RecursionError):
        same = False
    return "unchanged" if same else "update"


def _pem_body(pem: str) -> str:
    return "".join(
        line.strip()
        for line in pem.strip().splitlines()
        if line.strip() and not line.startswith("-----")
    )


def _may_be(summary: Mapping[str, Any], comment: str, origin: str | None) -> bool:
    """Cheap pre-filter on a ListDistributions summary before GetDistributionConfig.

    A summary is a candidate when its comment is ours, when one of its origins is our
    container, or when it lacks both pieces of information (some emulators omit them).
    """
    has_comment = "Comment" in summary
    origins = (summary.get("Origins") or {}).get("Items")
    if has_comment and summary.get("Comment") == comment:
        return True
    if (
        origins is not None
        and origin is not None
        and any(o.get("DomainName") == origin for o in origins)
    ):
        return True
    return not has_comment and origins is None


def _essentials(config: Mapping[str, Any]) -> dict[str, object]:
    """The parts of a DistributionConfig this library owns, in comparable form."""
    origins = []
    for o in (config.get("Origins") or {}).get("Items") or []:
        custom = o.get("CustomOriginConfig") or {}
        s3 = o.get("S3OriginConfig")
        origins.append(
            {
                "origin": (o.get("Id"), o.get("DomainName"), o.get("OriginPath") or ""),
                "origin custom headers": sorted(
                    (h.get("HeaderName", "").lower(), h.get("HeaderValue"))
                    for h in (o.get("CustomHeaders") or {}).get("Items") or []
                ),
                "origin protocol": (
                    custom.get("OriginProtocolPolicy"),
                    sorted((custom.get("OriginSslProtocols") or {}).get("Items") or []),
                    None if s3 is None else s3.get("OriginAccessIdentity", ""),
                ),
                "origin timeouts": (
                    custom.get("OriginReadTimeout") or (s3 or {}).get("OriginReadTimeout") or 30,
                    custom.get("OriginKeepaliveTimeout") or 5,
                ),
                "origin access control": o.get("OriginAccessControlId") or "",
            }
        )
    b = config.get("DefaultCacheBehavior") or {}
    allowed = b.get("AllowedMethods") or {}
    trusted = b.get("TrustedKeyGroups") or {}
    out: dict[str, object] = {
        "origins": len(origins),
        "comment": config.get("Comment"),
        "price class": config.get("PriceClass"),
        "enabled": config.get("Enabled"),
        "target origin": b.get("TargetOriginId"),
        "viewer protocol": b.get("ViewerProtocolPolicy"),
        "allowed methods": sorted(allowed.get("Items") or []),
        "cached methods": sorted((allowed.get("CachedMethods") or {}).get("Items") or []),
        "cache policy": b.get("CachePolicyId") or "",
        "origin request policy": b.get("OriginRequestPolicyId") or "",
        "trusted key groups": (
            bool(trusted.get("Enabled")),
            sorted(trusted.get("Items") or []),
        ),
    }
    for origin in origins[:1]:
        out.update(origin)
    return out


def _differences(wanted: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Names (never values: they hold secrets) of the essentials that differ."""
    a, b = _essentials(wanted), _essentials(current)
    return [key for key in a if a[key] != b.get(key)]
