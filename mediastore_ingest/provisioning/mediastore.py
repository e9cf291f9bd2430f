"""Provisioning a MediaStore container, and the policies it takes.

The container is created if missing and polled until ``ACTIVE``; then its container
policy, CORS policy and object lifecycle policy are set (those the spec has). Writes
are gated by the ingest secret, which the ingest distribution sends as its
``User-Agent`` origin header.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import urlsplit

import attrs

from mediastore_ingest._internal.jsonutil import strict_loads
from mediastore_ingest._internal.show import type_name
from mediastore_ingest._internal.validate import check, int_in, str_items
from mediastore_ingest.distribution import validate_origin_domain
from mediastore_ingest.errors import (
    ContainerPolicyError,
    DistributionConfigError,
    InvalidInputError,
    ProvisioningError,
)
from mediastore_ingest.iam.document import ContainerPolicy
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins.mediastore import MEDIASTORE, ContainerPolicyBuilder
from mediastore_ingest.provisioning.aws import Aws, account_of
from mediastore_ingest.provisioning.engine import (
    Distribution,
    OriginEngine,
    Role,
    register_engine,
)
from mediastore_ingest.provisioning.plan import (
    Action,
    PlanStep,
    compare_canonical,
    compare_json,
)

if TYPE_CHECKING:  # pragma: no cover
    from mediastore_ingest.provisioning.spec import ProvisioningSpec

__all__ = [
    "INGEST_ACTIONS",
    "ContainerInfo",
    "MediaStoreEngine",
    "container_policy_source",
    "live_cors_rules",
    "live_lifecycle_policy",
    "secret_gated_container_policy",
]

_MAX_CONTAINER_POLICY = 8192
_NOT_FOUND_CONTAINER = ("ContainerNotFoundException", "ResourceNotFoundException")
_NO_POLICY = ("PolicyNotFoundException",)
_NO_CORS = ("CorsPolicyNotFoundException", "PolicyNotFoundException")

#: What encoders may do through the ingest distribution (PUT, DELETE, HEAD, GET).
INGEST_ACTIONS: tuple[str, ...] = (
    "mediastore:PutObject",
    "mediastore:DeleteObject",
    "mediastore:GetObject",
    "mediastore:DescribeObject",
)


class _SupportsToJson(Protocol):
    def to_json(self) -> str: ...  # pragma: no cover


@attrs.frozen
class ContainerInfo:
    """What is known about the MediaStore container once it exists.

    A callable ``container_policy`` in ``ProvisioningSpec`` receives this, so a
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


def container_policy_source(value: object) -> str | Callable[[ContainerInfo], object] | None:
    """``ProvisioningSpec.container_policy`` as kept: ``None``, a callable (rendered
    once the container exists), or checked policy text."""
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
            f"not {type_name(value)}"
        )
    if not text.isascii() or not 1 <= len(text) <= _MAX_CONTAINER_POLICY:
        raise ContainerPolicyError(
            f"a container policy must be ASCII and 1-{_MAX_CONTAINER_POLICY} characters"
        )
    strict_loads(text, error=ContainerPolicyError, what="the container policy")
    return text


def live_lifecycle_policy(*, seconds: int = 300, wildcards: Sequence[str] = ("*",)) -> str:
    """A MediaStore lifecycle policy with one *transient data* rule.

    Objects matching any of ``wildcards`` expire ``seconds`` (1-300, MediaStore's limit
    for transient rules) after they were written — right for live segments and
    manifests that no player asks for once they drop out of the playlist window.
    A single str is one pattern.
    """
    check("seconds", seconds, int_in(1, 300))
    paths = str_items(wildcards, "wildcards")
    if not 1 <= len(paths) <= 10:
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
    origins = list(str_items(allowed_origins, "allowed_origins"))
    if not origins:
        raise InvalidInputError("allowed_origins must be non-empty strings")
    check("max_age_seconds", max_age_seconds, int_in(0))
    return (
        {
            "AllowedOrigins": origins,
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedHeaders": ["*"],
            "MaxAgeSeconds": max_age_seconds,
        },
    )


def secret_gated_container_policy(
    *,
    ingest_secret: IngestSecret,
    playback_secret: IngestSecret | None = None,
    account_id: str | None = None,
    ingest_actions: Sequence[str] = INGEST_ACTIONS,
) -> Callable[[ContainerInfo], ContainerPolicy]:
    """A ``container_policy`` factory for ``ProvisioningSpec``.

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


# --- the engine -------------------------------------------------------------------------


@attrs.frozen
class _Container:
    """The container as the distributions see it (``info`` is ``None`` in a dry run
    before it exists)."""

    info: ContainerInfo | None

    @property
    def domain(self) -> str | None:
        info = self.info
        return info.origin_domain if info is not None and info.status == "ACTIVE" else None

    @property
    def ready(self) -> bool:
        return self.domain is not None


class MediaStoreEngine(OriginEngine[_Container]):
    """A MediaStore container whose writes need the ingest secret."""

    origin = MEDIASTORE.name
    label = "container"
    resource = "container"
    reference_prefix = "mediastore-ingest"

    def check_spec(self, spec: ProvisioningSpec) -> None:
        if spec.container_name is None:
            raise InvalidInputError("a MediaStore origin needs container_name")
        if spec.ingest_secret is None:
            raise InvalidInputError(
                "a MediaStore origin needs ingest_secret (the User-Agent secret the "
                "container policy requires for writes)"
            )
        for name in ("bucket_name", "origin_access_control_name", "expire_after_days"):
            if getattr(spec, name) is not None:
                raise InvalidInputError(f"{name} is for origin='s3' only")
        if spec.playback and spec.playback_secret is None:
            raise InvalidInputError(
                "a playback distribution needs its own playback_secret "
                "(or pass playback=False)"
            )
        if (
            spec.playback_secret is not None
            and spec.playback_secret.value == spec.ingest_secret.value
        ):
            raise DistributionConfigError(
                "the playback secret must differ from the ingest secret"
            )

    def name_of(self, spec: ProvisioningSpec) -> str:
        assert spec.container_name is not None  # checked in check_spec
        return spec.container_name

    def secrets(self, spec: ProvisioningSpec) -> tuple[str, ...]:
        given = (spec.ingest_secret, spec.playback_secret)
        return tuple(secret.value for secret in given if secret is not None)

    def prepare(
        self, aws: Aws, spec: ProvisioningSpec, execute: bool, steps: list[PlanStep]
    ) -> _Container:
        info = _container(aws, spec, execute, steps)
        _container_policy(aws, spec, info, execute, steps)
        if spec.cors_rules is not None:
            wanted = [dict(rule) for rule in spec.cors_rules]
            _sub_policy(aws, spec.name, info, execute, steps, "CORS policy",
                        "CorsPolicy", "CorsPolicy", _NO_CORS, wanted, compare_canonical)
        if spec.lifecycle_policy is not None:
            _sub_policy(aws, spec.name, info, execute, steps, "lifecycle policy",
                        "LifecyclePolicy", "LifecyclePolicy", _NO_POLICY,
                        spec.lifecycle_policy, compare_json)
        return _Container(info)

    def distribution_options(
        self, spec: ProvisioningSpec, role: Role, state: _Container
    ) -> dict[str, Any]:
        if role == "ingest":
            return {"secret": spec.ingest_secret}
        return {"secret": spec.playback_secret, "ingest_secret": spec.ingest_secret}

    def origin_record(
        self, aws: Aws, spec: ProvisioningSpec, state: _Container, ingest: Distribution
    ) -> dict[str, Any]:
        info = state.info
        assert info is not None  # apply made it
        return {
            "container_name": info.name,
            "container_arn": info.arn,
            "container_endpoint": info.endpoint,
            "account_id": info.account_id,
            "origin": self.origin,
        }


def _describe(aws: Aws, name: str) -> ContainerInfo | None:
    out = aws.call(
        "mediastore", "DescribeContainer", absent=_NOT_FOUND_CONTAINER, ContainerName=name
    )
    if out is None:
        return None
    c = out["Container"]
    arn = str(c.get("ARN", ""))
    return ContainerInfo(
        name=str(c.get("Name", name)),
        arn=arn,
        endpoint=str(c.get("Endpoint", "")),
        region=aws.region,
        status=str(c.get("Status", "")),
        account_id=account_of(arn),
    )


def _container(
    aws: Aws, spec: ProvisioningSpec, execute: bool, steps: list[PlanStep]
) -> ContainerInfo | None:
    name = spec.name
    info = _describe(aws, name)
    if info is None:
        steps.append(PlanStep("create", "mediastore container", name))
        if not execute:
            return None
        tags = [{"Key": k, "Value": v} for k, v in sorted(spec.container_tags.items())]
        params: dict[str, Any] = {"ContainerName": name}
        if tags:
            params["Tags"] = tags
        aws.call("mediastore", "CreateContainer", **params)
    else:
        if info.status == "DELETING":
            raise ProvisioningError(
                f"container {name!r} is being deleted; try again once it is gone",
                operation="DescribeContainer",
                code="ContainerDeleting",
            )
        steps.append(PlanStep("reuse", "mediastore container", name, info.status.lower()))
        if info.status == "ACTIVE" or not execute:
            return _checked(info)

    current: list[ContainerInfo] = []

    def active() -> bool:
        found = _describe(aws, name)
        if found is not None and found.status == "ACTIVE":
            current.append(found)
            return True
        return False

    aws.poll(f"container {name!r} to become ACTIVE", active)
    return _checked(current[-1])


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
    aws: Aws,
    spec: ProvisioningSpec,
    info: ContainerInfo | None,
    execute: bool,
    steps: list[PlanStep],
) -> None:
    source = spec.container_policy
    if source is None:
        return
    wanted = _policy_text(source(info)) if callable(source) and info else source
    _sub_policy(aws, spec.name, info, execute, steps, "container policy",
                "ContainerPolicy", "Policy", _NO_POLICY, wanted, compare_json)


def _sub_policy(
    aws: Aws,
    name: str,
    info: ContainerInfo | None,
    execute: bool,
    steps: list[PlanStep],
    label: str,
    operation: str,
    field: str,
    absent: Sequence[str],
    wanted: Any,
    compare: Callable[[Any, Any], Action],
) -> None:
    """One of a container's policies: Get<operation>, compare, Put<operation>."""
    if info is None:
        steps.append(PlanStep("create", label, name))
        return
    current = aws.call("mediastore", "Get" + operation, absent=absent, ContainerName=name)
    action = compare(wanted, current and current.get(field))
    steps.append(PlanStep(action, label, name))
    if execute and action in ("create", "update"):
        aws.call("mediastore", "Put" + operation, ContainerName=name, **{field: wanted})


register_engine(MediaStoreEngine())
