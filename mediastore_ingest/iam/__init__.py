"""IAM policy documents for origin resources.

The document model, its lint findings, the ingest secret a policy checks for, and an
offline evaluator of a request against a policy.
"""

from __future__ import annotations

from mediastore_ingest.iam.document import (
    MAX_POLICY_LENGTH,
    POLICY_VERSION,
    Condition,
    ContainerPolicy,
    Principal,
    Statement,
)
from mediastore_ingest.iam.evaluate import (
    Decision,
    EvaluationResult,
    RequestContext,
    evaluate_container_policy,
)
from mediastore_ingest.iam.lint import Finding, Severity
from mediastore_ingest.iam.secret import USER_AGENT_PREFIX, IngestSecret

__all__ = [
    "MAX_POLICY_LENGTH",
    "POLICY_VERSION",
    "USER_AGENT_PREFIX",
    "Condition",
    "ContainerPolicy",
    "Decision",
    "EvaluationResult",
    "Finding",
    "IngestSecret",
    "Principal",
    "RequestContext",
    "Severity",
    "Statement",
    "evaluate_container_policy",
]
