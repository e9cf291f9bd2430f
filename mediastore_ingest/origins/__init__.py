"""What each origin kind (AWS Elemental MediaStore, Amazon S3) requires of an ingest.

One description (``Origin``) per kind, registered by name, that the rest of the
package asks instead of branching on the kind.
"""

from __future__ import annotations

from mediastore_ingest.origins.arn import distribution_arn
from mediastore_ingest.origins.base import (
    Origin,
    get_origin,
    origin_names,
    register_origin,
    unregister_origin,
)
from mediastore_ingest.origins.mediastore import (
    MEDIASTORE,
    ContainerPolicyBuilder,
    check_container_name,
    container_arn,
    mediastore_object_arn,
    validate_content_type,
    validate_path,
)
from mediastore_ingest.origins.s3 import (
    CLOUDFRONT_SERVICE_PRINCIPAL,
    MAX_BUCKET_POLICY_BYTES,
    S3,
    S3_INGEST_ACTIONS,
    BucketPolicy,
    BucketPolicyBuilder,
    bucket_arn,
    check_bucket_name,
    s3_object_arn,
    validate_s3_content_type,
    validate_s3_key,
)

__all__ = [
    "CLOUDFRONT_SERVICE_PRINCIPAL",
    "MAX_BUCKET_POLICY_BYTES",
    "MEDIASTORE",
    "S3",
    "S3_INGEST_ACTIONS",
    "BucketPolicy",
    "BucketPolicyBuilder",
    "ContainerPolicyBuilder",
    "Origin",
    "bucket_arn",
    "check_bucket_name",
    "check_container_name",
    "container_arn",
    "distribution_arn",
    "get_origin",
    "mediastore_object_arn",
    "origin_names",
    "register_origin",
    "s3_object_arn",
    "unregister_origin",
    "validate_content_type",
    "validate_path",
    "validate_s3_content_type",
    "validate_s3_key",
]
