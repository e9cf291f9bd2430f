"""Local stand-ins for AWS, on loopback, for tests of code that uses this package.

:class:`LocalContainer` is a MediaStore container (data API, SigV4, container policy
enforcement); :class:`LocalCA` issues the certificates local servers present;
:class:`LocalHTTPServer` and :class:`RequestHandler` are the threaded HTTP/1.1 base
they are built on.
"""

from __future__ import annotations

from ._container import (
    DEFAULT_CREDENTIALS,
    LocalContainer,
    LocalCredential,
    StoredObject,
)
from ._http import LocalHTTPServer, RecordedRequest, RequestHandler
from ._tls import LocalCA

__all__ = [
    "DEFAULT_CREDENTIALS",
    "LocalCA",
    "LocalContainer",
    "LocalCredential",
    "LocalHTTPServer",
    "RecordedRequest",
    "RequestHandler",
    "StoredObject",
]
