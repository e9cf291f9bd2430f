"""Provisioning on CloudFront: the public key, its key group, Origin Access Controls,
and the ingest and playback distributions.

A public key with the same name and the same key is reused (the same name with
another key is an error); the key group is found by name and the key added when
missing; a distribution is found again by its ``CallerReference`` and updated when the
parts of its config this library owns differ.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from mediastore_ingest.distribution import (
    ingest_distribution_config,
    origin_access_control_config,
    playback_distribution_config,
)
from mediastore_ingest.errors import ProvisioningError
from mediastore_ingest.provisioning.aws import Aws
from mediastore_ingest.provisioning.engine import (
    Distribution,
    OriginEngine,
    OriginState,
    Role,
)
from mediastore_ingest.provisioning.plan import Action, PlanStep

if TYPE_CHECKING:  # pragma: no cover
    from mediastore_ingest.provisioning.spec import ProvisioningSpec

__all__ = [
    "distribution",
    "key_group",
    "origin_access_control",
    "public_key",
    "wait_deployed",
]

_MAX_KEYS_PER_GROUP = 5
_OAC_ESSENTIALS = ("SigningProtocol", "SigningBehavior", "OriginAccessControlOriginType")


def _list(aws: Aws, operation: str, list_key: str) -> Iterator[dict[str, Any]]:
    """Every item of a CloudFront ``List*`` operation, page by page (by ``Marker``)."""
    marker: str | None = None
    seen: set[str] = set()
    while True:
        params: dict[str, Any] = {}
        if marker:
            params["Marker"] = marker
        out = aws.call("cloudfront", operation, **params) or {}
        page = out.get(list_key) or {}
        yield from page.get("Items") or []
        marker = page.get("NextMarker")
        if not marker or marker in seen:
            return
        seen.add(marker)


def _pem_body(pem: str) -> str:
    return "".join(
        line.strip()
        for line in pem.strip().splitlines()
        if line.strip() and not line.startswith("-----")
    )


# --- keys ---------------------------------------------------------------------------------


def public_key(
    aws: Aws, spec: ProvisioningSpec, execute: bool, steps: list[PlanStep]
) -> str | None:
    """The id of the spec's CloudFront public key (``None`` in a dry run before it exists)."""
    name = spec.effective_public_key_name
    wanted = spec.public_key_pem
    for item in _list(aws, "ListPublicKeys", "PublicKeyList"):
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
    out = aws.call(
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


def key_group(
    aws: Aws,
    spec: ProvisioningSpec,
    key_id: str | None,
    execute: bool,
    steps: list[PlanStep],
) -> str | None:
    """The id of the key group trusting ``key_id`` (``None`` in a dry run before it exists)."""
    name = spec.effective_key_group_name
    for item in _list(aws, "ListKeyGroups", "KeyGroupList"):
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
            current = aws.call("cloudfront", "GetKeyGroup", Id=group_id)
            assert current is not None
            new_config = dict(current["KeyGroup"]["KeyGroupConfig"])
            new_config["Items"] = [*items, key_id]
            aws.call(
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
    out = aws.call(
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


# --- Origin Access Control ----------------------------------------------------------------


def origin_access_control(
    aws: Aws,
    name: str,
    *,
    origin_type: Literal["s3", "mediastore"],
    description: str,
    execute: bool,
    steps: list[PlanStep],
) -> str | None:
    """The id of the OAC ``name`` (``None`` in a dry run before it exists)."""
    wanted = origin_access_control_config(
        name, origin_type=origin_type, description=description
    )
    for item in _list(aws, "ListOriginAccessControls", "OriginAccessControlList"):
        if item.get("Name") != name:
            continue
        oac_id = str(item["Id"])
        different = [key for key in _OAC_ESSENTIALS if item.get(key) != wanted[key]]
        if not different:
            steps.append(PlanStep("reuse", "origin access control", name, oac_id))
            return oac_id
        steps.append(PlanStep(
            "update", "origin access control", name, f"{oac_id}: {', '.join(different)}"
        ))
        if execute:
            current = aws.call("cloudfront", "GetOriginAccessControl", Id=oac_id)
            assert current is not None
            aws.call(
                "cloudfront", "UpdateOriginAccessControl", Id=oac_id,
                IfMatch=current["ETag"], OriginAccessControlConfig=wanted,
            )
        return oac_id
    steps.append(PlanStep("create", "origin access control", name))
    if not execute:
        return None
    out = aws.call("cloudfront", "CreateOriginAccessControl", OriginAccessControlConfig=wanted)
    assert out is not None
    return str(out["OriginAccessControl"]["Id"])


# --- distributions ------------------------------------------------------------------------


def _wanted_config(
    spec: ProvisioningSpec, role: Role, domain: str, options: Mapping[str, Any], group_id: str
) -> dict[str, object]:
    common: dict[str, Any] = {
        "origin_domain": domain,
        "caller_reference": spec.caller_reference(role),
        "comment": spec.comment(role),
        "price_class": spec.price_class,
        "origin_read_timeout": spec.origin_read_timeout,
        "origin_keepalive_timeout": spec.origin_keepalive_timeout,
        **options,
    }
    if role == "ingest":
        return ingest_distribution_config(key_group_id=group_id, **common)
    return playback_distribution_config(
        key_group_id=group_id if spec.playback_signed else None, **common
    )


def _find(
    aws: Aws, reference: str, comment: str, domain: str | None
) -> tuple[Distribution, dict[str, Any], str] | None:
    """Find a distribution by CallerReference: ``((id, domain, arn), config, etag)``."""
    for summary in _list(aws, "ListDistributions", "DistributionList"):
        if not _may_be(summary, comment, domain):
            continue
        out = aws.call("cloudfront", "GetDistributionConfig", Id=summary["Id"])
        assert out is not None
        config = out["DistributionConfig"]
        if config.get("CallerReference") == reference:
            dist = (str(summary["Id"]), str(summary["DomainName"]), str(summary["ARN"]))
            return dist, config, str(out["ETag"])
    return None


def distribution(
    aws: Aws,
    spec: ProvisioningSpec,
    role: Role,
    engine: OriginEngine[Any],
    state: OriginState,
    group_id: str | None,
    execute: bool,
    steps: list[PlanStep],
) -> Distribution | None:
    """Create, update or reuse the ``role`` distribution in front of the origin
    ``engine`` prepared; ``(id, domain, arn)``, or ``None`` in a dry run before it exists."""
    resource = f"{role} distribution"
    reference = spec.caller_reference(role)
    domain = state.domain
    found = _find(aws, reference, spec.comment(role), domain)
    if domain is None or group_id is None or not state.ready:
        # Dry run before the origin or key group exists: nothing to compare.
        action: Action = "update" if found else "create"
        detail = "config depends on resources created above"
        steps.append(PlanStep(action, resource, reference, detail))
        return None
    options = engine.distribution_options(spec, role, state)
    wanted = _wanted_config(spec, role, domain, options, group_id)
    if found is None:
        steps.append(PlanStep("create", resource, reference))
        if not execute:
            return None
        out = aws.call(
            "cloudfront",
            "CreateDistributionWithTags",
            DistributionConfigWithTags={
                "DistributionConfig": wanted,
                "Tags": {
                    "Items": [
                        {"Key": f"mediastore-ingest:{engine.resource}", "Value": spec.name},
                        {"Key": "mediastore-ingest:role", "Value": role},
                    ]
                },
            },
        )
        assert out is not None
        created = out["Distribution"]
        return str(created["Id"]), str(created["DomainName"]), str(created["ARN"])
    (dist_id, dist_domain, arn), current, etag = found
    differences = _differences(wanted, current)
    if not differences:
        steps.append(PlanStep("reuse", resource, reference, dist_id))
        return dist_id, dist_domain, arn
    steps.append(
        PlanStep("update", resource, reference, f"{dist_id}: {', '.join(differences)}")
    )
    if execute:
        out = aws.call(
            "cloudfront",
            "UpdateDistribution",
            Id=dist_id,
            IfMatch=etag,
            DistributionConfig=wanted,
        )
        assert out is not None
        dist_domain = str(out["Distribution"]["DomainName"])
    return dist_id, dist_domain, arn


def wait_deployed(aws: Aws, dist_id: str) -> None:
    """Poll until distribution ``dist_id`` is ``Deployed``."""

    def deployed() -> bool:
        out = aws.call("cloudfront", "GetDistribution", Id=dist_id)
        return out is not None and out["Distribution"].get("Status") == "Deployed"

    aws.poll(f"distribution {dist_id} to deploy", deployed)


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
