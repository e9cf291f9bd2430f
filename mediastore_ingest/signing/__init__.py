"""CloudFront signed URLs and cookies: policies, keys, the signer and the verifier;
keys held in AWS KMS (or another external signer) and key rotation."""

from __future__ import annotations

from mediastore_ingest.signing.external import EXTERNAL_ALGORITHMS, ExternalSigner
from mediastore_ingest.signing.keys import (
    CLOUDFRONT_KEY_REQUIREMENTS,
    KeyData,
    KeyPair,
    PrivateKey,
    PublicKey,
    check_private_key,
    check_public_key,
    generate_key_pair,
    key_fingerprint,
    load_private_key,
    load_public_key,
    public_key_pem,
)
from mediastore_ingest.signing.kms import (
    KMS_KEY_SPECS,
    MAX_RAW_MESSAGE_BYTES,
    KmsSigner,
    MessageType,
)
from mediastore_ingest.signing.policy import (
    MAX_EPOCH,
    RESERVED_QUERY_PARAMS,
    CannedPolicy,
    CustomPolicy,
    Policy,
    TimeLike,
    normalize_url,
    to_epoch,
    wildcard_match,
)
from mediastore_ingest.signing.rotation import RotatingUrlSigner, ScheduledKey
from mediastore_ingest.signing.signer import (
    COOKIE_NAMES,
    MAX_URL_BYTES,
    HashAlgorithm,
    UrlSigner,
)
from mediastore_ingest.signing.verifier import SignedUrl, UrlVerifier, parse_cookie_header

__all__ = [
    "CLOUDFRONT_KEY_REQUIREMENTS",
    "COOKIE_NAMES",
    "EXTERNAL_ALGORITHMS",
    "KMS_KEY_SPECS",
    "MAX_EPOCH",
    "MAX_RAW_MESSAGE_BYTES",
    "MAX_URL_BYTES",
    "RESERVED_QUERY_PARAMS",
    "CannedPolicy",
    "CustomPolicy",
    "ExternalSigner",
    "HashAlgorithm",
    "KeyData",
    "KeyPair",
    "KmsSigner",
    "MessageType",
    "Policy",
    "PrivateKey",
    "PublicKey",
    "RotatingUrlSigner",
    "ScheduledKey",
    "SignedUrl",
    "TimeLike",
    "UrlSigner",
    "UrlVerifier",
    "check_private_key",
    "check_public_key",
    "generate_key_pair",
    "key_fingerprint",
    "load_private_key",
    "load_public_key",
    "normalize_url",
    "parse_cookie_header",
    "public_key_pem",
    "to_epoch",
    "wildcard_match",
]
