"""Origin Access Control for ``LocalEdge``.

With OAC, CloudFront signs each request it forwards to an S3 origin with SigV4, as the
service principal ``cloudfront.amazonaws.com``. For requests with a body, CloudFront
does not hash the body itself: it signs with the ``x-amz-content-sha256`` value the
viewer sent, which is why an encoder must send that header on every PUT to an S3
origin behind OAC. The local edge does the same with botocore's signer and test
credentials that the S3 stand-in (moto's server in the tests) trusts.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mediastore_ingest._internal.show import shown, type_name
from mediastore_ingest._internal.validate import parse_http_url
from mediastore_ingest.errors import InvalidInputError

__all__ = ["EMPTY_SHA256", "OriginAccessControl"]

#: SHA-256 of the empty body: the payload hash of GET, HEAD and DELETE.
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
_HEX = frozenset("0123456789abcdef")


def _not_empty(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{attribute.name} must be a non-empty str")


def _header_pairs(headers: object) -> list[tuple[str, str]]:
    if isinstance(headers, (str, bytes)) or not isinstance(headers, Iterable):
        raise InvalidInputError(
            f"viewer_headers must be (name, value) pairs, not {type_name(headers)}"
        )
    pairs = []
    for pair in headers:
        if (
            not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or not all(isinstance(part, str) for part in pair)
        ):
            # A header value may be a secret: name the type, never show the content.
            raise InvalidInputError(
                f"viewer_headers must be (name, value) pairs of str, found a "
                f"{type_name(pair)} that is not one"
            )
        pairs.append((pair[0], pair[1]))
    return pairs


class _ViewerHashSigner(S3SigV4Auth):  # type: ignore[misc]  # botocore is untyped
    """SigV4 for S3 whose payload hash is the one the viewer declared."""

    def __init__(self, credentials: Credentials, region: str, payload_hash: str) -> None:
        super().__init__(credentials, "s3", region)
        self._payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self._payload_hash


@attrs.frozen
class OriginAccessControl:
    """Sign forwarded requests for an S3 origin as CloudFront's OAC does.

    ``access_key_id``/``secret_access_key`` stand for the CloudFront service
    principal's credentials (test values the S3 stand-in trusts); ``region`` is the
    bucket's region. Requests are signed at the current time, as CloudFront does.
    """

    access_key_id: str = attrs.field(validator=_not_empty)
    secret_access_key: str = attrs.field(validator=_not_empty, repr=False)
    region: str = attrs.field(default="us-west-2", validator=_not_empty)

    def signed_headers(
        self, method: str, url: str, viewer_headers: Iterable[tuple[str, str]]
    ) -> dict[str, str]:
        """The headers to add to the forwarded request: ``Authorization``,
        ``X-Amz-Date`` and ``X-Amz-Content-SHA256``.

        ``viewer_headers`` are the viewer's header (name, value) pairs
        (``x-amz-content-sha256`` is looked up case-insensitively). A body request
        without that header is signed with the empty-body hash, which S3 then
        refuses — as it does behind real OAC.
        """
        if not isinstance(method, str) or not (method.isascii() and method.isalpha()):
            raise InvalidInputError(f"method must be an HTTP method name, not {shown(method)}")
        parse_http_url("url", url)
        declared = next(
            (v for k, v in _header_pairs(viewer_headers) if k.lower() == "x-amz-content-sha256"),
            None,
        )
        if declared is not None and (len(declared) != 64 or not set(declared) <= _HEX):
            declared = None  # not a hex digest: sign the empty hash, S3 will refuse
        payload_hash = declared if declared is not None else EMPTY_SHA256
        request = AWSRequest(method=method, url=url, headers={})
        credentials = Credentials(self.access_key_id, self.secret_access_key)
        _ViewerHashSigner(credentials, self.region, payload_hash).add_auth(request)
        return {
            "Authorization": str(request.headers["Authorization"]),
            "X-Amz-Date": str(request.headers["X-Amz-Date"]),
            "X-Amz-Content-SHA256": payload_hash,
        }
