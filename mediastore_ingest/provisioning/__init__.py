"""Apply origins, policies and distributions to AWS with botocore.

A plan (dry run) first, then idempotent changes, recorded in a setup file.
``Provisioner`` is the entry point; ``ProvisioningSpec`` says what to make.
"""

from __future__ import annotations

from mediastore_ingest.provisioning.mediastore import (
    INGEST_ACTIONS,
    ContainerInfo,
    live_cors_rules,
    live_lifecycle_policy,
    secret_gated_container_policy,
)
from mediastore_ingest.provisioning.plan import Plan, PlanStep
from mediastore_ingest.provisioning.provisioner import Provisioner
from mediastore_ingest.provisioning.s3 import s3_expiry_rule
from mediastore_ingest.provisioning.setup import IngestSetup
from mediastore_ingest.provisioning.spec import ProvisioningSpec

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
