"""Pin the public surface: a change to ``__all__`` must be deliberate (and in CHANGELOG)."""

from __future__ import annotations

import mediastore_ingest

EXPECTED = {
    "DEFAULT_CACHE_RULES",
    "RelayConfig",
    "RelayStats",
    "SigningRelay",
    "Headers",
    "ProgressLine",
    "parse_retry_after",
    "ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID",
    "AccessDeniedError",
    "BodyNotRetryableError",
    "CACHING_DISABLED_POLICY_ID",
    "CACHING_OPTIMIZED_POLICY_ID",
    "CLOUDFRONT_KEY_REQUIREMENTS",
    "COOKIE_NAMES",
    "CannedPolicy",
    "Condition",
    "ContainerInfo",
    "ContainerPolicy",
    "ContainerPolicyBuilder",
    "ContainerPolicyError",
    "CustomPolicy",
    "Decision",
    "DistributionConfigError",
    "EvaluationResult",
    "FORBIDDEN_ORIGIN_HEADERS",
    "Finding",
    "HTTPStatusError",
    "HashAlgorithm",
    "INGEST_ACTIONS",
    "INGEST_METHODS",
    "IngestClient",
    "IngestConfig",
    "IngestError",
    "IngestSecret",
    "IngestSetup",
    "InvalidContentTypeError",
    "InvalidInputError",
    "InvalidPathError",
    "KeyData",
    "KeyLoadError",
    "KeyMaterialError",
    "KeyPair",
    "KeySizeWarning",
    "ListItem",
    "LocalStackError",
    "MAX_EPOCH",
    "MAX_POLICY_LENGTH",
    "MEDIA_TYPES",
    "MalformedSignatureError",
    "MediaStoreIngestError",
    "MediaStoreIngestWarning",
    "MockTransport",
    "ObjectInfo",
    "ObjectNotFoundError",
    "ObjectStream",
    "OriginType",
    "PLAYBACK_METHODS",
    "POLICY_VERSION",
    "Plan",
    "PlanStep",
    "Policy",
    "PolicyError",
    "PolicyExpiredError",
    "PolicyNotYetValidError",
    "PolicyParseError",
    "Principal",
    "PrivateKey",
    "Provisioner",
    "ProvisioningError",
    "ProvisioningSpec",
    "PublicKey",
    "PutOutcome",
    "PutRequest",
    "PutResult",
    "RESERVED_QUERY_PARAMS",
    "Request",
    "RequestBodyError",
    "RequestContext",
    "ResourceMismatchError",
    "Response",
    "RetriesExhaustedError",
    "RetryPolicy",
    "SignatureMismatchError",
    "SignedUrl",
    "SigningError",
    "SourceIpMismatchError",
    "Statement",
    "TimeLike",
    "Transport",
    "TransportError",
    "USER_AGENT_PREFIX",
    "UnknownKeyIdError",
    "UnsupportedKeyError",
    "UnsupportedPolicyFeatureError",
    "UrlSigner",
    "UrlVerifier",
    "Urllib3Transport",
    "VerificationError",
    "__version__",
    "check_private_key",
    "check_public_key",
    "container_arn",
    "detect_origin_type",
    "evaluate_container_policy",
    "generate_key_pair",
    "guess_content_type",
    "ingest_distribution_config",
    "key_fingerprint",
    "live_cache_control",
    "live_cors_rules",
    "live_lifecycle_policy",
    "load_private_key",
    "load_public_key",
    "mediastore_object_arn",
    "normalize_url",
    "origin_access_control_config",
    "parse_cookie_header",
    "playback_distribution_config",
    "public_key_pem",
    "secret_gated_container_policy",
    "to_epoch",
    "validate_content_type",
    "validate_origin_domain",
    "validate_path",
}


def test_all_is_pinned():
    assert set(mediastore_ingest.__all__) == EXPECTED


def test_every_exported_name_exists_and_is_documented():
    for name in mediastore_ingest.__all__:
        obj = getattr(mediastore_ingest, name)
        if callable(obj) and not name.isupper() and name not in {"PrivateKey", "PublicKey", "KeyData", "Policy", "TimeLike", "HashAlgorithm", "OriginType", "Headers"}:
            assert obj.__doc__, f"{name} has no docstring"


def test_exports_have_no_duplicates():
    assert len(mediastore_ingest.__all__) == len(set(mediastore_ingest.__all__))


def test_library_logging_is_silent_by_default():
    import logging

    handlers = logging.getLogger("mediastore_ingest").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)
