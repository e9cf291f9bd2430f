"""Local stand-ins for AWS, on loopback, for tests of code that uses this package.

``LocalContainer`` is a MediaStore container (data API, SigV4, container policy
enforcement); ``LocalCA`` issues the certificates local servers present;
``LocalHTTPServer`` and ``RequestHandler`` are the threaded HTTP/1.1 base
they are built on (strict parsing; its limits, ``ServerLimits``, are every
server's ``limits=``). ``LocalEdge`` stands in for a CloudFront distribution (with
``OriginAccessControl`` it signs for an S3 origin), ``FaultPlan`` injects
faults there, and ``LocalStack`` wires the whole chain. ``LongLink`` is a
long-haul path on loopback (delay, jitter, bandwidth; round trips counted), and a
``Geography`` puts one on each path of the stack (``LocalStack(geography=...)``).
``LocalBucket`` is an S3 bucket (path-style REST API, SigV4, bucket policy) for
the same chain onto S3 with Origin Access Control: ``LocalStack(origin="s3")``.
"""

from __future__ import annotations

from mediastore_ingest.server.base import (
    LocalHTTPServer,
    RecordedRequest,
    RequestHandler,
    ServerLimits,
)
from mediastore_ingest.testing._edge import INGEST_METHODS, PLAYBACK_METHODS, LocalEdge
from mediastore_ingest.testing._faults import (
    ALL_FAULT_KINDS,
    Fault,
    FaultKind,
    FaultPlan,
    FaultSchedule,
)
from mediastore_ingest.testing._longlink import (
    GEOGRAPHIES,
    Geography,
    LinkCounters,
    LongLink,
)
from mediastore_ingest.testing._mediastore import LocalContainer
from mediastore_ingest.testing._oac import OriginAccessControl
from mediastore_ingest.testing._recording import ForwardedRequest, StoredObject
from mediastore_ingest.testing._s3 import MAX_S3_OBJECT_SIZE, LocalBucket
from mediastore_ingest.testing._sigv4 import DEFAULT_CREDENTIALS, LocalCredential
from mediastore_ingest.testing._stack import (
    DEFAULT_INGEST_ACTIONS,
    DEFAULT_S3_INGEST_ACTIONS,
    LocalStack,
)
from mediastore_ingest.testing._tls import LocalCA

__all__ = [
    "ALL_FAULT_KINDS",
    "DEFAULT_CREDENTIALS",
    "DEFAULT_INGEST_ACTIONS",
    "DEFAULT_S3_INGEST_ACTIONS",
    "GEOGRAPHIES",
    "INGEST_METHODS",
    "MAX_S3_OBJECT_SIZE",
    "PLAYBACK_METHODS",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FaultSchedule",
    "ForwardedRequest",
    "Geography",
    "LinkCounters",
    "LocalBucket",
    "LocalCA",
    "LocalContainer",
    "LocalCredential",
    "LocalEdge",
    "LocalHTTPServer",
    "LocalStack",
    "LongLink",
    "OriginAccessControl",
    "RecordedRequest",
    "RequestHandler",
    "ServerLimits",
    "StoredObject",
]
