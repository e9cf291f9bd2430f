"""What each origin kind (AWS Elemental MediaStore, Amazon S3) requires of an ingest."""

from __future__ import annotations

from mediastore_ingest.origins.s3 import (
    CLOUDFRONT_SERVICE_PRINCIPAL,
    MAX_BUCKET_POLICY_BYTES,
    S3_INGEST_ACTIONS,
    BucketPolicy,
    BucketPolicyBuilder,
    bucket_arn,
    check_bucket_name,
    distribution_arn,
    s3_object_arn,
)

__all__ = [
    "CLOUDFRONT_SERVICE_PRINCIPAL",
    "MAX_BUCKET_POLICY_BYTES",
    "S3_INGEST_ACTIONS",
    "BucketPolicy",
    "BucketPolicyBuilder",
    "bucket_arn",
    "check_bucket_name",
    "distribution_arn",
    "s3_object_arn",
]
