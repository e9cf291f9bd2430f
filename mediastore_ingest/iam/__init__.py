"""IAM policy documents for origin resources.

The document model, its lint findings and an offline evaluator of a request against it.
"""

from __future__ import annotations

from mediastore_ingest.iam.document import (
    MAX_POLICY_LENGTH,
    POLICY_VERSION,
    USER_AGENT_PREFIX,
    Condition,
    ContainerPolicy,
    ContainerPolicyBuilder,
    Finding,
    IngestSecret,
    Principal,
    Statement,
    container_arn,
    mediastore_object_arn,
)
from mediastore_ingest.iam.evaluate import (
    Decision,
    EvaluationResult,
    RequestContext,
    evaluate_container_policy,
)

__all__ = [
    "MAX_POLICY_LENGTH",
    "POLICY_VERSION",
    "USER_AGENT_PREFIX",
    "Condition",
    "ContainerPolicy",
    "ContainerPolicyBuilder",
    "Decision",
    "EvaluationResult",
    "Finding",
    "IngestSecret",
    "Principal",
    "RequestContext",
    "Statement",
    "container_arn",
    "evaluate_container_policy",
    "mediastore_object_arn",
]
