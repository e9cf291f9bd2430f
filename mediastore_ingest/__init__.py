"""Accelerated, signed live-media ingest into AWS origins through CloudFront.

``import mediastore_ingest as mi`` and use the names in ``__all__``; everything else
is private and may change.
"""

from __future__ import annotations

import logging

from .container_policy import USER_AGENT_PREFIX, IngestSecret
from .errors import (
    AccessDeniedError,
    BodyNotRetryableError,
    ContainerPolicyError,
    DistributionConfigError,
    HTTPStatusError,
    IngestError,
    InvalidContentTypeError,
    InvalidInputError,
    InvalidPathError,
    KeyLoadError,
    KeyMaterialError,
    LocalStackError,
    MalformedSignatureError,
    MediaStoreIngestError,
    ObjectNotFoundError,
    PolicyError,
    PolicyExpiredError,
    PolicyNotYetValidError,
    PolicyParseError,
    ProvisioningError,
    ResourceMismatchError,
    RetriesExhaustedError,
    SignatureMismatchError,
    SigningError,
    SourceIpMismatchError,
    TransportError,
    UnknownKeyIdError,
    UnsupportedKeyError,
    UnsupportedPolicyFeatureError,
    VerificationError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "USER_AGENT_PREFIX",
    "AccessDeniedError",
    "BodyNotRetryableError",
    "ContainerPolicyError",
    "DistributionConfigError",
    "HTTPStatusError",
    "IngestError",
    "IngestSecret",
    "InvalidContentTypeError",
    "InvalidInputError",
    "InvalidPathError",
    "KeyLoadError",
    "KeyMaterialError",
    "LocalStackError",
    "MalformedSignatureError",
    "MediaStoreIngestError",
    "ObjectNotFoundError",
    "PolicyError",
    "PolicyExpiredError",
    "PolicyNotYetValidError",
    "PolicyParseError",
    "ProvisioningError",
    "ResourceMismatchError",
    "RetriesExhaustedError",
    "SignatureMismatchError",
    "SigningError",
    "SourceIpMismatchError",
    "TransportError",
    "UnknownKeyIdError",
    "UnsupportedKeyError",
    "UnsupportedPolicyFeatureError",
    "VerificationError",
    "__version__",
]

# Library logging is silent unless the application configures it.
logging.getLogger(__name__).addHandler(logging.NullHandler())
