"""Local stand-ins for AWS, on loopback, for tests of code that uses this package.

:class:`LocalContainer` is a MediaStore container (data API, SigV4, container policy
enforcement); :class:`LocalCA` issues the certificates local servers present;
:class:`LocalHTTPServer` and :class:`RequestHandler` are the threaded HTTP/1.1 base
they are built on. :class:`LocalEdge` stands in for a CloudFront distribution (with
:class:`OriginAccessControl` it signs for an S3 origin), :class:`FaultPlan` injects
faults there, and :class:`LocalStack` wires the whole chain. :class:`LocalBucket` is
an S3 bucket (path-style REST API, SigV4, bucket policy) for the same chain onto S3
with Origin Access Control: ``LocalStack(origin="s3")``.
"""

from __future__ import annotations

from .._httpserver import LocalHTTPServer, RecordedRequest, RequestHandler
from ._bucket import MAX_S3_OBJECT_SIZE, LocalBucket
from ._container import (
    DEFAULT_CREDENTIALS,
    LocalContainer,
    LocalCredential,
    StoredObject,
)
from ._edge import INGEST_METHODS, PLAYBACK_METHODS, ForwardedRequest, LocalEdge
from ._faults import ALL_FAULT_KINDS, Fault, FaultKind, FaultPlan, FaultSchedule
from ._oac import OriginAccessControl
from ._stack import DEFAULT_INGEST_ACTIONS, DEFAULT_S3_INGEST_ACTIONS, LocalStack
from ._tls import LocalCA

__all__ = [
    "ALL_FAULT_KINDS",
    "DEFAULT_CREDENTIALS",
    "DEFAULT_INGEST_ACTIONS",
    "DEFAULT_S3_INGEST_ACTIONS",
    "INGEST_METHODS",
    "MAX_S3_OBJECT_SIZE",
    "PLAYBACK_METHODS",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FaultSchedule",
    "ForwardedRequest",
    "LocalBucket",
    "LocalCA",
    "LocalContainer",
    "LocalCredential",
    "LocalEdge",
    "LocalHTTPServer",
    "LocalStack",
    "OriginAccessControl",
    "RecordedRequest",
    "RequestHandler",
    "StoredObject",
]
