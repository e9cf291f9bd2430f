"""What to provision: ``ProvisioningSpec``, checked field by field on creation.

Each origin kind's engine adds its own checks (the fields it needs, the ones it does
not take).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import attrs
from cryptography.hazmat.primitives.asymmetric import rsa

from mediastore_ingest._internal.jsonutil import strict_loads
from mediastore_ingest._internal.show import type_name
from mediastore_ingest._internal.validate import instance_of, int_in, matches, optional
from mediastore_ingest.errors import InvalidInputError, KeySizeWarning
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins.s3 import check_bucket_name
from mediastore_ingest.provisioning.engine import Role, check_origin, engine_for
from mediastore_ingest.provisioning.mediastore import ContainerInfo, container_policy_source
from mediastore_ingest.signing.keys import load_public_key

__all__ = ["ProvisioningSpec"]

_CONTAINER_NAME = re.compile(r"[\w-]{1,255}", re.ASCII)
_CF_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
_OAC_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _check_json_text(what: str, max_len: int) -> Callable[[Any, Any, str | None], None]:
    """An attrs validator: ``None``, or JSON text of 1-``max_len`` characters."""

    def check(instance: object, attribute: object, value: str | None) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not 1 <= len(value) <= max_len:
            raise InvalidInputError(f"{what} must be JSON text of 1-{max_len} characters")
        strict_loads(value, error=InvalidInputError, what=what)

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


def _tags(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """``container_tags`` as a dict (from a mapping or key/value pairs) of str to str."""
    try:
        tags = dict(cast(Any, value))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            "container_tags must be a mapping (or key/value pairs) of str to str, "
            f"got {type_name(value)}"
        ) from exc
    for key, tag in tags.items():
        if not isinstance(key, str) or not isinstance(tag, str):
            raise InvalidInputError(
                f"container_tags keys and values must be str, got "
                f"{type_name(key)}: {type_name(tag)}"
            )
    return tags


# attrs takes a field's type from its validator: these are typed to take any value.
_Check = Callable[[Any, Any, Any], None]
_container_name: _Check = optional(
    matches(_CONTAINER_NAME, "a container name of 1-255 letters, digits, '_' or '-'")
)
_cf_name_check: _Check = optional(matches(_CF_NAME, "1-128 letters, digits, '_' or '-'"))
_oac_name: _Check = optional(matches(_OAC_NAME, "1-64 letters, digits, '.', '_' or '-'"))
_days: _Check = optional(int_in(1))
# A str given as a secret is the secret itself: instance_of names the type only.
_secret: _Check = optional(
    instance_of(IngestSecret, "an IngestSecret (wrap the value: IngestSecret(value))")
)


@attrs.frozen
class ProvisioningSpec:
    """What to provision: one origin, its policies, one key, and the distributions.

    ``origin`` selects the origin type: ``"mediastore"`` (the default) provisions
    the MediaStore container ``container_name`` with ``ingest_secret`` (required)
    gating writes; ``"s3"`` provisions the S3 bucket ``bucket_name`` behind an Origin
    Access Control (see below).

    ``container_policy`` is JSON text, a ``ContainerPolicy`` (anything with
    ``to_json()``), or a callable taking the ``ContainerInfo`` and returning
    either — use the callable when the policy needs the container ARN or account id.
    ``None`` leaves the container's policy alone.

    ``ingest_secret`` and ``playback_secret`` are used to build the distributions'
    ``User-Agent`` origin headers; they are never shown by ``repr`` and never written
    into an ``IngestSetup``.

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

    container_name: str | None = attrs.field(
        default=None,  # required for MediaStore origins; checked by its engine
        validator=_container_name,
    )
    public_key_pem: str = attrs.field(default="", validator=_check_public_key, repr=False)
    ingest_secret: IngestSecret | None = attrs.field(default=None, repr=False, validator=_secret)
    container_policy: str | Callable[[ContainerInfo], object] | None = attrs.field(
        default=None, converter=container_policy_source, repr=False
    )
    playback: bool = True
    playback_secret: IngestSecret | None = attrs.field(
        default=None, repr=False, validator=_secret
    )
    playback_signed: bool = False
    cors_rules: tuple[dict[str, object], ...] | None = attrs.field(
        default=None, converter=_cors_converter
    )
    lifecycle_policy: str | None = attrs.field(
        default=None, validator=_check_json_text("lifecycle_policy", 8192)
    )
    public_key_name: str | None = attrs.field(default=None, validator=_cf_name_check)
    key_group_name: str | None = attrs.field(default=None, validator=_cf_name_check)
    price_class: str = "PriceClass_All"
    origin_read_timeout: int = 30
    origin_keepalive_timeout: int = 5
    container_tags: Mapping[str, str] = attrs.field(factory=dict, converter=_tags)
    origin: str = attrs.field(default="mediastore", kw_only=True, validator=check_origin)
    bucket_name: str | None = attrs.field(default=None, kw_only=True, validator=_check_bucket)
    origin_access_control_name: str | None = attrs.field(
        default=None,
        kw_only=True,
        validator=_oac_name,
    )
    expire_after_days: int | None = attrs.field(
        default=None, kw_only=True, validator=_days
    )
    expire_prefix: str = attrs.field(default="", kw_only=True)
    deny_insecure_transport: bool = attrs.field(default=True, kw_only=True)

    def __attrs_post_init__(self) -> None:
        engine_for(self.origin).check_spec(self)

    @property
    def name(self) -> str:
        """The origin's name: the container name, or the bucket name for S3."""
        return engine_for(self.origin).name_of(self)

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
        return f"{engine_for(self.origin).reference_prefix}:{self.name}:{role}"

    def comment(self, role: Role) -> str:
        """The distribution ``Comment`` (at most 128 characters)."""
        return f"mediastore-ingest {role}: {engine_for(self.origin).where(self.name)}"[:128]


def _cf_name(text: str) -> str:
    """``text`` made a CloudFront resource name: ``[A-Za-z0-9_-]``, at most 128."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:128]
