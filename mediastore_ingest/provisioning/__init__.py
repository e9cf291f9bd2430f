"""Apply origins, policies and distributions to AWS with botocore.

A plan (dry run) first, then idempotent changes, recorded in a setup file.
"""

from __future__ import annotations

from mediastore_ingest.provisioning.provisioner import (
    INGEST_ACTIONS,
    ContainerInfo,
    IngestSetup,
    Plan,
    PlanStep,
    Provisioner,
    ProvisioningSpec,
    live_cors_rules,
    live_lifecycle_policy,
    s3_expiry_rule,
    secret_gated_container_policy,
)

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
