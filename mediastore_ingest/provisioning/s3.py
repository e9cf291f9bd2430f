"""Provisioning an S3 bucket as the origin, behind a CloudFront Origin Access Control.

No secret is involved: the bucket (created in the region if missing) gets all four
public access blocks, ``BucketOwnerEnforced`` object ownership and an optional expiry
rule; both distributions reach it through the OAC; and last its bucket policy, which
names the distributions' ARNs and so can only be written once they exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from mediastore_ingest._internal.validate import check, int_in, text
from mediastore_ingest.distribution import s3_origin_domain
from mediastore_ingest.errors import ContainerPolicyError, InvalidInputError, ProvisioningError
from mediastore_ingest.origins.s3 import (
    S3,
    S3_INGEST_ACTIONS,
    BucketPolicy,
    BucketPolicyBuilder,
    bucket_arn,
)
from mediastore_ingest.provisioning.aws import Aws, account_of, partition_of
from mediastore_ingest.provisioning.cloudfront import origin_access_control
from mediastore_ingest.provisioning.engine import (
    Distribution,
    OriginEngine,
    Role,
    register_engine,
)
from mediastore_ingest.provisioning.plan import Action, PlanStep, compare_json

if TYPE_CHECKING:  # pragma: no cover
    from mediastore_ingest.provisioning.spec import ProvisioningSpec

__all__ = ["S3Engine", "s3_expiry_rule"]

_NO_BUCKET = ("404", "NoSuchBucket", "NotFound")
_NO_PUBLIC_ACCESS_BLOCK = ("NoSuchPublicAccessBlockConfiguration",)
_NO_OWNERSHIP = ("OwnershipControlsNotFoundError",)
_NO_LIFECYCLE = ("NoSuchLifecycleConfiguration",)
_NO_BUCKET_POLICY = ("NoSuchBucketPolicy",)
_PUBLIC_ACCESS_BLOCK = (
    "BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"
)
_LIFECYCLE_RULE_ID = "mediastore-ingest-expire-live"


def s3_expiry_rule(days: int, *, prefix: str = "") -> dict[str, Any]:
    """The S3 lifecycle rule the provisioner owns (ID ``mediastore-ingest-expire-live``):
    objects under ``prefix`` (all objects for ``""``) expire ``days`` days after
    creation, and multipart uploads left incomplete are aborted after one day."""
    check("days", days, int_in(1))
    check("prefix", prefix, text(empty=True))
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


@attrs.frozen
class _Bucket:
    """The bucket as the distributions see it: its REST endpoint, and the OAC they
    sign with (``None`` in a dry run before it exists)."""

    name: str
    region: str
    exists: bool
    oac_id: str | None

    @property
    def domain(self) -> str:
        # Asked for only once the key and key group are done, as it always was: a
        # name S3 takes but CloudFront cannot reach (a dot in it) fails here.
        return s3_origin_domain(self.name, self.region)

    @property
    def ready(self) -> bool:
        return self.oac_id is not None


class S3Engine(OriginEngine[_Bucket]):
    """An S3 bucket that only the distributions may use, through an OAC."""

    origin = S3.name
    label = "S3 bucket"
    resource = "bucket"
    reference_prefix = "mediastore-ingest:s3"

    def check_spec(self, spec: ProvisioningSpec) -> None:
        if spec.bucket_name is None:
            raise InvalidInputError("origin='s3' needs bucket_name")
        mediastore_only = {
            "container_name": spec.container_name is not None,
            "ingest_secret": spec.ingest_secret is not None,
            "playback_secret": spec.playback_secret is not None,
            "container_policy": spec.container_policy is not None,
            "cors_rules": spec.cors_rules is not None,
            "lifecycle_policy": spec.lifecycle_policy is not None,
            "container_tags": bool(spec.container_tags),
        }
        given = [name for name, present in mediastore_only.items() if present]
        if given:
            raise InvalidInputError(
                f"{', '.join(given)}: MediaStore-only, not used with origin='s3' (an S3 "
                "origin is reached through an Origin Access Control, with no secret)"
            )
        if not isinstance(spec.expire_prefix, str) or len(spec.expire_prefix) > 1024:
            raise InvalidInputError("expire_prefix must be a str of at most 1024 characters")

    def name_of(self, spec: ProvisioningSpec) -> str:
        assert spec.bucket_name is not None  # checked in check_spec
        return spec.bucket_name

    def where(self, name: str) -> str:
        return f"s3://{name}"

    def prepare(
        self, aws: Aws, spec: ProvisioningSpec, execute: bool, steps: list[PlanStep]
    ) -> _Bucket:
        bucket = spec.name
        exists = _bucket(aws, bucket, execute, steps)
        _public_access_block(aws, bucket, exists, execute, steps)
        _ownership_controls(aws, bucket, exists, execute, steps)
        _bucket_lifecycle(aws, spec, exists, execute, steps)
        oac_id = origin_access_control(
            aws,
            spec.effective_origin_access_control_name,
            origin_type="s3",
            description=f"mediastore-ingest: {self.where(bucket)}"[:256],
            execute=execute,
            steps=steps,
        )
        return _Bucket(bucket, aws.region, exists, oac_id)

    def distribution_options(
        self, spec: ProvisioningSpec, role: Role, state: _Bucket
    ) -> dict[str, Any]:
        return {"secret": None, "origin_access_control_id": state.oac_id}

    def after_distributions(
        self,
        aws: Aws,
        spec: ProvisioningSpec,
        state: _Bucket,
        ingest: Distribution | None,
        playback: Distribution | None,
        execute: bool,
        steps: list[PlanStep],
    ) -> None:
        # Only now do the distribution ARNs exist for the policy to name.
        _bucket_policy(aws, spec, state.exists, ingest, playback, execute, steps)

    def origin_record(
        self, aws: Aws, spec: ProvisioningSpec, state: _Bucket, ingest: Distribution
    ) -> dict[str, Any]:
        bucket = spec.name
        return {
            "container_name": bucket,
            "container_arn": bucket_arn(bucket, partition=partition_of(ingest[2])),
            "container_endpoint": f"https://{state.domain}",
            "account_id": account_of(ingest[2]),
            "origin": self.origin,
            "origin_access_control_id": state.oac_id,
        }


def _bucket(aws: Aws, bucket: str, execute: bool, steps: list[PlanStep]) -> bool:
    """Create the bucket if missing; True when it exists (before or after)."""
    try:
        found = aws.call("s3", "HeadBucket", absent=_NO_BUCKET, Bucket=bucket)
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
        where = aws.call("s3", "GetBucketLocation", Bucket=bucket) or {}
        # us-east-1 answers no constraint; "EU" is the legacy name of eu-west-1.
        region = where.get("LocationConstraint") or "us-east-1"
        region = "eu-west-1" if region == "EU" else region
        if region != aws.region:
            raise ProvisioningError(
                f"bucket {bucket!r} is in {region}, not in {aws.region}; provision "
                f"with region={region!r} or choose another bucket",
                operation="GetBucketLocation",
                code="BucketRegionMismatch",
            )
        steps.append(PlanStep("reuse", "s3 bucket", bucket, region))
        return True
    steps.append(PlanStep("create", "s3 bucket", bucket, aws.region))
    if not execute:
        return False
    params: dict[str, Any] = {"Bucket": bucket}
    if aws.region != "us-east-1":
        # us-east-1 refuses an explicit LocationConstraint; every other region needs it.
        params["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    aws.call("s3", "CreateBucket", **params)
    return True


def _public_access_block(
    aws: Aws, bucket: str, exists: bool, execute: bool, steps: list[PlanStep]
) -> None:
    wanted = dict.fromkeys(_PUBLIC_ACCESS_BLOCK, True)
    action: Action = "create"
    if exists:
        current = aws.call(
            "s3", "GetPublicAccessBlock", absent=_NO_PUBLIC_ACCESS_BLOCK, Bucket=bucket
        )
        if current is not None:
            config = current.get("PublicAccessBlockConfiguration") or {}
            same = all(config.get(name) is True for name in _PUBLIC_ACCESS_BLOCK)
            action = "unchanged" if same else "update"
    steps.append(PlanStep(action, "public access block", bucket, "all four blocks on"))
    if execute and action != "unchanged":
        aws.call(
            "s3", "PutPublicAccessBlock", Bucket=bucket,
            PublicAccessBlockConfiguration=wanted,
        )


def _ownership_controls(
    aws: Aws, bucket: str, exists: bool, execute: bool, steps: list[PlanStep]
) -> None:
    action: Action = "create"
    if exists:
        current = aws.call(
            "s3", "GetBucketOwnershipControls", absent=_NO_OWNERSHIP, Bucket=bucket
        )
        if current is not None:
            rules = (current.get("OwnershipControls") or {}).get("Rules") or []
            same = [r.get("ObjectOwnership") for r in rules] == ["BucketOwnerEnforced"]
            action = "unchanged" if same else "update"
    steps.append(PlanStep(action, "object ownership", bucket, "BucketOwnerEnforced"))
    if execute and action != "unchanged":
        aws.call(
            "s3", "PutBucketOwnershipControls", Bucket=bucket,
            OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        )


def _bucket_lifecycle(
    aws: Aws, spec: ProvisioningSpec, exists: bool, execute: bool, steps: list[PlanStep]
) -> None:
    days = spec.expire_after_days
    if days is None:
        return
    bucket = spec.name
    ours = s3_expiry_rule(days, prefix=spec.expire_prefix)
    others: list[dict[str, Any]] = []
    action: Action = "create"
    if exists:
        current = aws.call(
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
        aws.call(
            "s3", "PutBucketLifecycleConfiguration", Bucket=bucket,
            LifecycleConfiguration={"Rules": [*others, ours]},
        )


def _bucket_policy(
    aws: Aws,
    spec: ProvisioningSpec,
    exists: bool,
    ingest: Distribution | None,
    playback: Distribution | None,
    execute: bool,
    steps: list[PlanStep],
) -> None:
    bucket = spec.name
    current_text: str | None = None
    if exists:
        current = aws.call("s3", "GetBucketPolicy", absent=_NO_BUCKET_POLICY, Bucket=bucket)
        current_text = None if current is None else str(current.get("Policy") or "")
    if ingest is None or (spec.playback and playback is None):
        action: Action = "create" if current_text is None else "update"
        steps.append(PlanStep(action, "bucket policy", bucket,
                              "needs the ARNs of the distributions created above"))
        return
    wanted = _wanted_bucket_policy(spec, ingest[2], playback and playback[2])
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
    action = "create" if current_text is None else compare_json(text, current_text)
    detail = f"{len(kept)} other statement(s) kept" if kept else ""
    steps.append(PlanStep(action, "bucket policy", bucket, detail))
    if execute and action != "unchanged":
        aws.call("s3", "PutBucketPolicy", Bucket=bucket, Policy=text)


def _wanted_bucket_policy(
    spec: ProvisioningSpec, ingest_arn: str, playback_arn: str | None
) -> BucketPolicy:
    account = account_of(ingest_arn)
    if account is None:
        raise ProvisioningError(
            f"unexpected distribution ARN {ingest_arn!r}",
            operation="CreateDistribution",
            code="UnexpectedArn",
        )
    builder = BucketPolicyBuilder(
        bucket=spec.name, account_id=account, partition=partition_of(ingest_arn)
    ).allow_cloudfront_ingest(ingest_arn, actions=S3_INGEST_ACTIONS)
    if playback_arn is not None:
        builder = builder.allow_cloudfront_read(playback_arn)
    if spec.deny_insecure_transport:
        builder = builder.deny_insecure_transport()
    return builder.build()


register_engine(S3Engine())
