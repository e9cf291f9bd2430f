"""The ingest client: signed PUT/HEAD/GET/DELETE/list of live media through a
CloudFront ingest distribution, or directly with botocore.

[`IngestClient`][mediastore_ingest.ingest.IngestClient] is the entry point;
[`IngestConfig`][mediastore_ingest.ingest.IngestConfig] and
[`RetryPolicy`][mediastore_ingest.ingest.RetryPolicy] configure it;
[`Transport`][mediastore_ingest.ingest.Transport] is the one HTTP seam, with the default
[`Urllib3Transport`][mediastore_ingest.ingest.Urllib3Transport] and the
[`MockTransport`][mediastore_ingest.ingest.MockTransport] test double. Progress goes to
[`Subscriber`][mediastore_ingest.ingest.Subscriber]s such as
[`ProgressLine`][mediastore_ingest.ingest.ProgressLine].
"""

from __future__ import annotations

from mediastore_ingest.ingest._retry import RetryPolicy, parse_retry_after
from mediastore_ingest.ingest.client import IngestClient
from mediastore_ingest.ingest.config import IngestConfig
from mediastore_ingest.ingest.media import (
    MEDIA_TYPES,
    guess_content_type,
    live_cache_control,
)
from mediastore_ingest.ingest.models import (
    ListItem,
    ObjectInfo,
    ObjectStream,
    PutOutcome,
    PutRequest,
    PutResult,
)
from mediastore_ingest.ingest.progress import ProgressLine, PutFuture, Subscriber
from mediastore_ingest.ingest.transports import (
    Headers,
    MockTransport,
    Request,
    Response,
    Transport,
    Urllib3Transport,
)
from mediastore_ingest.origins import (
    validate_content_type,
    validate_path,
    validate_s3_content_type,
    validate_s3_key,
)

__all__ = [
    "MEDIA_TYPES",
    "Headers",
    "IngestClient",
    "IngestConfig",
    "ListItem",
    "MockTransport",
    "ObjectInfo",
    "ObjectStream",
    "ProgressLine",
    "PutFuture",
    "PutOutcome",
    "PutRequest",
    "PutResult",
    "Request",
    "Response",
    "RetryPolicy",
    "Subscriber",
    "Transport",
    "Urllib3Transport",
    "guess_content_type",
    "live_cache_control",
    "parse_retry_after",
    "validate_content_type",
    "validate_path",
    "validate_s3_content_type",
    "validate_s3_key",
]
