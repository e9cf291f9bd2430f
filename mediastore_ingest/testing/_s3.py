"""``LocalBucket``: an S3 bucket's REST API (path style) on loopback.

The stand-in for the origin that replaces MediaStore: an S3 bucket behind
CloudFront with Origin Access Control. It speaks the subset of S3 an ingest path
uses — ``PutObject``, ``GetObject`` (with ``Range``), ``HeadObject``,
``DeleteObject``, ``ListObjectsV2``, ``HeadBucket`` — closely enough for botocore's
own ``s3`` client with path-style addressing, and with S3's XML error bodies.

What it checks, as S3 does:

* SigV4 (the service of ``S3``) with botocore's
  signer; ``x-amz-content-sha256`` is required on signed requests and, when it is
  a hex digest, must match the body received: otherwise
  ``400 XAmzContentSHA256Mismatch`` and nothing is stored (the body is hashed as
  it streams in and committed only on a match). This is what
  makes an encoder behind OAC send the header: CloudFront signs with the viewer's
  value and does not hash the body itself;
* a ``PUT`` with ``Transfer-Encoding: chunked`` and no
  ``x-amz-decoded-content-length`` is refused with ``411 MissingContentLength``,
  so plain chunked (streaming) uploads cannot pass an OAC edge; botocore's own
  ``aws-chunked`` uploads with unsigned trailing checksums are decoded (CRC32,
  SHA-1 and SHA-256 checksums are verified, others accepted unverified); signed
  streaming payloads are not implemented (``501``);
* ``Content-MD5`` (``BadDigest``), ``x-amz-checksum-*`` headers, 5 GiB objects;
* the bucket policy, evaluated with
  ``evaluate_container_policy`` on ``s3:*``
  actions and ``arn:aws:s3:::<bucket>/<key>`` resources (``arn:aws:s3:::<bucket>``
  for listing). A ``LocalCredential`` with
  ``principal="cloudfront.amazonaws.com"`` and ``source_arn=<distribution ARN>``
  is how an OAC edge's signature becomes the CloudFront service principal acting
  for one distribution. Principals of the bucket's own account are allowed unless
  the policy denies them (``owner_access``: they stand for IAM users with full
  access); everyone else, anonymous callers included, needs a policy ``Allow``. A
  missing key is ``404 NoSuchKey`` only for a caller allowed ``s3:ListBucket``,
  else ``403 AccessDenied``, as S3 answers.

Not implemented: virtual-hosted addressing, presigned (query string) URLs,
multipart uploads, versioning, ACLs, conditional requests, ``ListObjects`` v1.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import zlib
from collections.abc import Callable, Mapping
from typing import cast
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4Auth

from mediastore_ingest._internal.jsonutil import strict_loads
from mediastore_ingest._internal.show import shown
from mediastore_ingest._internal.validate import (
    as_bytes,
    check,
    check_header_value,
    check_int,
    check_str,
    matches,
)
from mediastore_ingest.errors import InvalidInputError, MediaStoreIngestError, RequestBodyError
from mediastore_ingest.iam.document import ContainerPolicy
from mediastore_ingest.iam.evaluate import Decision, RequestContext, evaluate_container_policy
from mediastore_ingest.origins import S3, bucket_arn, s3_object_arn
from mediastore_ingest.server.base import RequestHandler, ServerLimits
from mediastore_ingest.testing._origin import (
    LocalOrigin,
    OriginError,
    OriginHandler,
    evaluate_request,
)
from mediastore_ingest.testing._recording import StoredObject
from mediastore_ingest.testing._sigv4 import (
    STREAMING_SIGNED_PAYLOADS,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    AwsChunkedDecoder,
    Caller,
    ChunkedBodyError,
    LocalCredential,
    SigV4Failure,
    as_credential,
    is_sha256_hex,
    verify_sigv4,
)
from mediastore_ingest.testing._tls import LocalCA, utcnow

__all__ = ["MAX_S3_OBJECT_SIZE", "LocalBucket"]

logger = logging.getLogger(__name__)

#: The largest object a single S3 ``PutObject`` takes (5 GiB).
MAX_S3_OBJECT_SIZE = S3.max_object_bytes
_MAX_KEY_BYTES = 1024
_MAX_KEYS = 1000
_DEFAULT_CONTENT_TYPE = "binary/octet-stream"  # S3's default, not application/...
_S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"

_PAYLOAD_TOKENS = (
    frozenset({UNSIGNED_PAYLOAD, STREAMING_UNSIGNED_TRAILER}) | STREAMING_SIGNED_PAYLOADS
)
_DIGITS_RE = re.compile(r"[0-9]{1,19}", re.ASCII)
_ACCOUNT_RE = re.compile(r"\d{12}", re.ASCII)
_REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}", re.ASCII)
_ACCOUNT_PRINCIPAL_RE = re.compile(r"arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):.+")
_STORAGE_CLASSES = frozenset(
    {
        "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
        "INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR", "OUTPOSTS",
        "SNOW", "EXPRESS_ONEZONE",
    }
)
_CHECKSUMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
# Headers stored with an object and returned on GET/HEAD.
_STORED_HEADERS = ("content-disposition", "content-language", "expires")
# Object sub-resources (query parameters) this stand-in does not implement.
_SUBRESOURCES = frozenset(
    {
        "acl", "tagging", "uploads", "uploadid", "partnumber", "versionid", "versions",
        "retention", "legal-hold", "torrent", "restore", "select", "attributes",
        "policy", "cors", "lifecycle", "website", "location", "delete",
    }
)

_SIGV4_ERRORS: dict[str, tuple[int, str]] = {
    "malformed": (400, "AuthorizationHeaderMalformed"),
    "scope": (400, "AuthorizationHeaderMalformed"),
    "date_mismatch": (400, "AuthorizationHeaderMalformed"),
    "unknown_key": (403, "InvalidAccessKeyId"),
    "bad_date": (403, "AccessDenied"),
    "skew": (403, "RequestTimeTooSkewed"),
    "payload_hash": (400, "InvalidArgument"),
}
_SIGV4_MESSAGES = {
    "unknown_key": "The AWS Access Key Id you provided does not exist in our records.",
    "skew": "The difference between the request time and the current time is too large.",
    "payload_hash": (
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "or a valid sha256 value."
    ),
    "headers": (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    ),
    "mismatch": (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    ),
}


def _iso8601(when: datetime.datetime) -> str:
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class _S3Error(OriginError):
    """An S3 error answer: an ``OriginError`` with the XML body's extra
    ``fields`` and extra response ``headers``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        close: bool = False,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, code, message, close=close)
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})


def _access_denied() -> _S3Error:
    return _S3Error(403, "AccessDenied", "Access Denied")


class _Checksums:
    """The digests S3 compares a body against, computed as the body streams in."""

    def __init__(self, algorithms: set[str]) -> None:
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha1 = hashlib.sha1(usedforsecurity=False) if "sha1" in algorithms else None
        self.crc32: int | None = 0 if "crc32" in algorithms else None

    def update(self, piece: bytes) -> None:
        self.sha256.update(piece)
        self.md5.update(piece)
        if self.sha1 is not None:
            self.sha1.update(piece)
        if self.crc32 is not None:
            self.crc32 = zlib.crc32(piece, self.crc32)

    def base64(self, algorithm: str) -> str | None:
        """The base64 checksum S3 would send for ``algorithm`` (None: not verifiable here)."""
        if algorithm == "sha256":
            digest = self.sha256.digest()
        elif algorithm == "sha1" and self.sha1 is not None:
            digest = self.sha1.digest()
        elif algorithm == "crc32" and self.crc32 is not None:
            digest = self.crc32.to_bytes(4, "big")
        else:
            return None
        return base64.b64encode(digest).decode()


class _BucketHandler(OriginHandler):
    """Routes the S3 requests of one ``LocalBucket``."""

    server_version = "AmazonS3"
    _request_id = ""

    @property
    def bucket(self) -> LocalBucket:
        return cast(LocalBucket, self.owner)

    def send_response(self, code: int, message: str | None = None) -> None:
        super().send_response(code, message)
        if code >= 200:
            self.send_header("x-amz-request-id", self._request_id)
            self.send_header("x-amz-id-2", self._host_id)

    @property
    def _host_id(self) -> str:
        return base64.b64encode(hashlib.sha256(self._request_id.encode()).digest()).decode()

    def _send_error(self, error: _S3Error) -> None:
        if error.close:
            self.close_connection = True
        parts = [
            f"<Code>{escape(error.code)}</Code>",
            f"<Message>{escape(error.message)}</Message>",
        ]
        parts += [f"<{name}>{escape(value)}</{name}>" for name, value in error.fields.items()]
        parts += [
            f"<RequestId>{self._request_id}</RequestId>",
            f"<HostId>{self._host_id}</HostId>",
        ]
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>")
        self.send_body(
            error.status,
            body.encode(),
            content_type="application/xml",
            headers=error.headers,
            head=self.command == "HEAD",
        )

    # --- routing ---------------------------------------------------------------------------

    def _dispatch(self) -> None:
        self._request_id = secrets.token_hex(8).upper()
        bucket = self.bucket
        split = urlsplit(self.path)
        try:
            params = parse_qs(split.query, keep_blank_values=True, strict_parsing=False)
            name, _, raw_key = split.path.lstrip("/").partition("/")
            if not name:
                raise _S3Error(501, "NotImplemented", "ListBuckets is not implemented")
            if name != bucket.bucket:
                raise _S3Error(
                    404, "NoSuchBucket", "The specified bucket does not exist",
                    fields={"BucketName": unquote(name)},
                )
            names = {p.lower() for p in params}
            if names & {"x-amz-signature", "x-amz-algorithm", "x-amz-credential",
                        "awsaccesskeyid", "signature"}:
                raise _S3Error(
                    501, "NotImplemented", "LocalBucket does not implement presigned URLs"
                )
            if raw_key:
                if names & _SUBRESOURCES:
                    raise _S3Error(
                        501, "NotImplemented",
                        "LocalBucket implements only plain object requests",
                    )
                key = _key(raw_key)
                operation = {
                    "PUT": self._put_object,
                    "GET": self._get_object,
                    "HEAD": self._get_object,
                    "DELETE": self._delete_object,
                }.get(self.command)
                if operation is None:
                    raise _S3Error(
                        405, "MethodNotAllowed",
                        "The specified method is not allowed against this resource.",
                    )
                operation(key)
            elif self.command == "GET" and params.get("list-type") == ["2"]:
                self._list_objects_v2(params)
            elif self.command == "HEAD" and not params:
                self._head_bucket()
            else:
                raise _S3Error(
                    501, "NotImplemented",
                    "LocalBucket implements only ListObjectsV2 and HeadBucket on the bucket",
                )
        except _S3Error as error:
            self._send_error(error)
        except MediaStoreIngestError as exc:
            logger.warning("LocalBucket internal error: %s", exc)
            self._send_error(_S3Error(500, "InternalError", "We encountered an internal error."))

    do_GET = do_HEAD = do_PUT = do_DELETE = do_POST = do_PATCH = do_OPTIONS = _dispatch

    # --- authentication and authorisation --------------------------------------------------

    def _authenticate(self) -> Caller:
        header = self.headers.get("Authorization")
        if header is None:
            return Caller(principal=None)
        if not header.lstrip().startswith("AWS4-HMAC-SHA256 "):
            raise _S3Error(
                400, "InvalidRequest",
                "The authorization mechanism you have provided is not supported. "
                "Please use AWS4-HMAC-SHA256.",
            )
        if self.headers.get("X-Amz-Content-SHA256") is None:
            raise _S3Error(
                400, "InvalidRequest", "Missing required header for this request: "
                "x-amz-content-sha256",
            )
        bucket = self.bucket
        try:
            return verify_sigv4(
                self,
                header,
                None,
                credentials=bucket._credentials,
                region=bucket.region,
                service=bucket.origin.sigv4_service,
                account_id=bucket.account_id,
                now=bucket._clock(),
                signer_class=bucket.sigv4_signer,
                payload_tokens=_PAYLOAD_TOKENS,
            )
        except SigV4Failure as failure:
            status, code = _SIGV4_ERRORS.get(failure.kind, (403, "SignatureDoesNotMatch"))
            message = _SIGV4_MESSAGES.get(failure.kind, failure.message)
            raise _S3Error(status, code, message) from failure

    def _authorize(self, action: str, resource: str, caller: Caller) -> None:
        allowed, reason = self.bucket._decide(action, resource, caller, self)
        if not allowed:
            logger.debug("LocalBucket denied %s on %s: %s", action, resource, reason)
            raise _access_denied()

    # --- operations -------------------------------------------------------------------------

    def _put_object(self, key: str) -> None:
        bucket = self.bucket
        claimed = self.headers.get("X-Amz-Content-SHA256")
        encodings = [
            e.strip().lower()
            for e in self.headers.get("Content-Encoding", "").split(",")
            if e.strip()
        ]
        aws_chunked = "aws-chunked" in encodings
        decoded_header = self.headers.get("x-amz-decoded-content-length")
        try:
            declared = self.content_length()
        except RequestBodyError as exc:
            raise _S3Error(
                400, "InvalidArgument", "Invalid Content-Length", close=True
            ) from exc
        if self.is_chunked and decoded_header is None:
            raise _S3Error(
                411, "MissingContentLength", "You must provide the Content-Length HTTP header."
            )
        if not self.is_chunked and declared is None:
            raise _S3Error(
                411, "MissingContentLength", "You must provide the Content-Length HTTP header."
            )
        size = declared or 0
        if aws_chunked or decoded_header is not None:
            if decoded_header is None or not _DIGITS_RE.fullmatch(decoded_header.strip()):
                raise _S3Error(
                    411, "MissingContentLength",
                    "You must provide the x-amz-decoded-content-length header.",
                )
            if not aws_chunked:
                raise _S3Error(
                    400, "InvalidArgument",
                    "x-amz-decoded-content-length needs Content-Encoding: aws-chunked",
                )
            if claimed in STREAMING_SIGNED_PAYLOADS:
                raise _S3Error(
                    501, "NotImplemented",
                    "LocalBucket does not verify chunk signatures; use "
                    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                )
            if claimed is not None and claimed != STREAMING_UNSIGNED_TRAILER:
                raise _S3Error(
                    400, "InvalidArgument",
                    "An aws-chunked body needs x-amz-content-sha256: "
                    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                )
            size = int(decoded_header.strip())
        elif claimed is not None and claimed != UNSIGNED_PAYLOAD and not is_sha256_hex(claimed):
            raise _S3Error(400, "InvalidArgument", _SIGV4_MESSAGES["payload_hash"])
        if size > bucket.max_object_size:
            raise _S3Error(
                400, "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
                fields={"ProposedSize": str(size), "MaxSizeAllowed": str(bucket.max_object_size)},
            )
        storage_class = self.headers.get("x-amz-storage-class", "STANDARD")
        if storage_class not in _STORAGE_CLASSES:
            raise _S3Error(400, "InvalidStorageClass",
                           "The storage class you specified is not valid")
        content_md5 = self.headers.get("Content-MD5")
        if content_md5 is not None:
            try:
                md5_raw = base64.b64decode(content_md5.strip(), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise _S3Error(400, "InvalidDigest",
                               "The Content-MD5 you specified was invalid.") from exc
            if len(md5_raw) != 16:
                raise _S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")

        caller = self._authenticate()
        self._authorize("s3:PutObject", bucket.object_arn(key), caller)

        header_checksums = {
            alg: value.strip()
            for alg in _CHECKSUMS
            if (value := self.headers.get(f"x-amz-checksum-{alg}")) is not None
        }
        trailer_names = {
            name.strip().lower()
            for name in self.headers.get("X-Amz-Trailer", "").split(",")
            if name.strip()
        }
        wanted = set(header_checksums) | {
            name.removeprefix("x-amz-checksum-") for name in trailer_names
        }
        sums = _Checksums(wanted)
        decoder = AwsChunkedDecoder(size) if aws_chunked else None
        parts: list[bytes] = []
        try:
            for piece in self.iter_body():  # Content-Length was checked above
                for data in decoder.feed(piece) if decoder is not None else (piece,):
                    sums.update(data)
                    parts.append(data)
            if decoder is not None:
                decoder.finish()
        except ChunkedBodyError as exc:
            raise _S3Error(400, "IncompleteBody", str(exc), close=True) from exc
        except RequestBodyError as exc:
            if exc.reason == "malformed":
                raise _S3Error(400, "IncompleteBody", "Malformed body", close=True) from exc
            logger.debug("LocalBucket: upload of %s cut off; nothing stored", key)
            self.abort_connection()
            return
        data = b"".join(parts)
        if decoder is not None:
            if len(data) != size:
                raise _S3Error(
                    400, "IncompleteBody",
                    "You did not provide the number of bytes specified by the "
                    "x-amz-decoded-content-length HTTP header",
                )
            missing = trailer_names - set(decoder.trailers)
            if missing:
                raise _S3Error(400, "MalformedTrailerError",
                               "The request contained trailing data that was not well-formed "
                               "or did not conform to our published schema.")
            for name in trailer_names:
                header_checksums[name.removeprefix("x-amz-checksum-")] = decoder.trailers[name]
        elif len(data) != size:  # pragma: no cover - iter_body enforces Content-Length
            raise _S3Error(400, "IncompleteBody", "The body ended early")
        sha256_hex = sums.sha256.hexdigest()
        if claimed is not None and is_sha256_hex(claimed) and claimed.lower() != sha256_hex:
            raise _S3Error(
                400, "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                fields={
                    "ClientComputedContentSHA256": claimed,
                    "S3ComputedContentSHA256": sha256_hex,
                },
            )
        if content_md5 is not None and base64.b64decode(content_md5.strip()) != sums.md5.digest():
            raise _S3Error(400, "BadDigest",
                           "The Content-MD5 you specified did not match what we received.")
        for algorithm, value in header_checksums.items():
            computed = sums.base64(algorithm)
            if computed is not None and computed != value:
                raise _S3Error(
                    400, "BadDigest",
                    f"The {algorithm.upper()} you specified did not match the calculated "
                    "checksum.",
                )
        stored_headers = [
            (name, value)
            for name, value in self.headers.items()
            if name.lower() in _STORED_HEADERS or name.lower().startswith("x-amz-meta-")
        ]
        kept_encodings = [e for e in encodings if e != "aws-chunked"]
        if kept_encodings:
            stored_headers.append(("Content-Encoding", ", ".join(kept_encodings)))
        meta = bucket._commit(
            key,
            data,
            content_type=self.headers.get("Content-Type", _DEFAULT_CONTENT_TYPE),
            cache_control=self.headers.get("Cache-Control"),
            sha256_hex=sha256_hex,
            md5_hex=sums.md5.hexdigest(),
            storage_class=storage_class,
            headers=tuple(stored_headers),
        )
        answer = [("ETag", meta.etag)]
        answer += [(f"x-amz-checksum-{alg}", v) for alg, v in sorted(header_checksums.items())]
        self.send_body(200, headers=answer)

    def object_headers(self, meta: StoredObject) -> list[tuple[str, str]]:
        """The common object headers, S3's storage class and the stored headers."""
        headers = super().object_headers(meta)
        if meta.storage_class != "STANDARD":
            headers.append(("x-amz-storage-class", meta.storage_class))
        headers.extend(meta.headers)
        return headers

    def _missing(self, key: str, caller: Caller) -> _S3Error:
        """S3's answer for a missing key: 404 only for a caller who may list the bucket."""
        bucket = self.bucket
        allowed, _ = bucket._decide("s3:ListBucket", bucket.bucket_arn, caller, self)
        if not allowed:
            return _access_denied()
        return _S3Error(404, "NoSuchKey", "The specified key does not exist.",
                        fields={"Key": key})

    def _get_object(self, key: str) -> None:
        bucket = self.bucket
        caller = self._authenticate()
        self._authorize("s3:GetObject", bucket.object_arn(key), caller)
        head = self.command == "HEAD"
        if head:
            meta = bucket._store.describe(key)
            if meta is None:
                raise self._missing(key, caller)
            self.send_body(200, content_type=meta.content_type,
                           headers=self.object_headers(meta), head=True,
                           content_length=meta.size)
            return
        found = bucket._store.get(key)
        if found is None:
            raise self._missing(key, caller)
        meta, data = found
        if not self.send_object(meta, data, self.object_headers(meta)):
            raise _S3Error(
                416, "InvalidRange", "The requested range is not satisfiable",
                fields={"RangeRequested": self.headers.get("Range", ""),
                        "ActualObjectSize": str(len(data))},
                headers={"Content-Range": f"bytes */{len(data)}"},
            )

    def _delete_object(self, key: str) -> None:
        bucket = self.bucket
        self._authorize("s3:DeleteObject", bucket.object_arn(key), self._authenticate())
        bucket._store.delete(key)  # S3 answers 204 whether or not the key existed
        self.send_body(204)

    def _head_bucket(self) -> None:
        bucket = self.bucket
        self._authorize("s3:ListBucket", bucket.bucket_arn, self._authenticate())
        self.send_body(200, headers=[("x-amz-bucket-region", bucket.region)], head=True)

    def _list_objects_v2(self, params: Mapping[str, list[str]]) -> None:
        bucket = self.bucket

        def one(name: str) -> str | None:
            values = params.get(name)
            return None if values is None else values[0]

        prefix = one("prefix") or ""
        delimiter = one("delimiter") or ""
        encoding = one("encoding-type")
        if encoding not in (None, "url"):
            raise _S3Error(400, "InvalidArgument", "Invalid Encoding Method specified in Request")
        max_keys_text = one("max-keys")
        max_keys = _MAX_KEYS
        if max_keys_text is not None:
            if not max_keys_text.isdigit():
                raise _S3Error(400, "InvalidArgument", "Provided max-keys not an integer or "
                               "within integer range")
            max_keys = min(int(max_keys_text), _MAX_KEYS)
        token = one("continuation-token")
        start_after = one("start-after")
        after: tuple[str, str] | None = None
        if token is not None:
            after = _decode_token(token, prefix, delimiter)
        elif start_after:
            after = ("key", start_after)
        self._authorize("s3:ListBucket", bucket.bucket_arn, self._authenticate())

        entries: list[tuple[str, str, StoredObject | None]] = []  # kind, name, meta
        seen_prefixes: set[str] = set()
        truncated = False
        for meta in bucket._store.all():
            key = meta.path
            if not key.startswith(prefix):
                continue
            if after is not None:
                kind, marker = after
                if key <= marker or (kind == "prefix" and key.startswith(marker)):
                    continue
            name, kind = key, "key"
            if delimiter:
                found = key.find(delimiter, len(prefix))
                if found >= 0:
                    name, kind = key[: found + len(delimiter)], "prefix"
                    if name in seen_prefixes:
                        continue
            if len(entries) >= max_keys:
                truncated = True
                break
            if kind == "prefix":
                seen_prefixes.add(name)
            entries.append((kind, name, meta if kind == "key" else None))

        def text(value: str) -> str:
            return escape(quote(value, safe="/~") if encoding == "url" else value)

        out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{_S3_NS}">']
        out.append(f"<Name>{escape(bucket.bucket)}</Name><Prefix>{text(prefix)}</Prefix>")
        if delimiter:
            out.append(f"<Delimiter>{text(delimiter)}</Delimiter>")
        out.append(f"<MaxKeys>{max_keys}</MaxKeys><KeyCount>{len(entries)}</KeyCount>")
        out.append(f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")
        if encoding is not None:
            out.append(f"<EncodingType>{encoding}</EncodingType>")
        if token is not None:
            out.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
        if start_after:
            out.append(f"<StartAfter>{text(start_after)}</StartAfter>")
        if truncated and entries:
            kind, name, _ = entries[-1]
            out.append(
                "<NextContinuationToken>"
                + escape(_encode_token(kind, name, prefix, delimiter))
                + "</NextContinuationToken>"
            )
        for _, name, listed in entries:
            if listed is not None:
                out.append(
                    f"<Contents><Key>{text(name)}</Key>"
                    f"<LastModified>{_iso8601(listed.last_modified)}</LastModified>"
                    f"<ETag>{escape(listed.etag)}</ETag><Size>{listed.size}</Size>"
                    f"<StorageClass>{escape(listed.storage_class)}</StorageClass></Contents>"
                )
        for kind, name, _ in entries:
            if kind == "prefix":
                out.append(f"<CommonPrefixes><Prefix>{text(name)}</Prefix></CommonPrefixes>")
        out.append("</ListBucketResult>")
        self.send_body(200, "".join(out).encode(), content_type="application/xml")


def _key(raw: str) -> str:
    try:
        key = unquote(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise _S3Error(400, "InvalidURI", "Couldn't parse the specified URI.") from exc
    if len(key.encode("utf-8")) > _MAX_KEY_BYTES:
        raise _S3Error(400, "KeyTooLongError", "Your key is too long")
    return key


def _encode_token(kind: str, name: str, prefix: str, delimiter: str) -> str:
    raw = json.dumps([kind, name, prefix, delimiter]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, prefix: str, delimiter: str) -> tuple[str, str]:
    try:
        decoded = strict_loads(
            base64.urlsafe_b64decode(token.encode()), error=ValueError, what="the token"
        )
        if not isinstance(decoded, list) or len(decoded) != 4:
            raise ValueError("not a [kind, name, prefix, delimiter] list")
        kind, name, token_prefix, token_delimiter = decoded
    except (binascii.Error, ValueError, TypeError) as exc:
        raise _S3Error(400, "InvalidArgument", "The continuation token provided is incorrect"
                       ) from exc
    if (token_prefix, token_delimiter) != (prefix, delimiter) or kind not in ("key", "prefix"):
        raise _S3Error(400, "InvalidArgument", "The continuation token provided is incorrect")
    return str(kind), str(name)


class LocalBucket(LocalOrigin):
    """An S3 bucket on ``127.0.0.1`` for tests: path-style REST API and bucket policy.

    ``bucket`` is the bucket name (S3's naming rules). ``policy`` is the bucket policy
    (JSON text, mapping or a policy object); ``None`` means no bucket policy, as a
    new bucket has. ``owner_access``: principals of ``account_id`` (the default
    ``credentials``, see ``DEFAULT_CREDENTIALS``) may do anything the policy
    does not explicitly deny, standing in for IAM users with full access.
    ``credentials`` maps access key ids to secrets or ``LocalCredential``
    (``principal="cloudfront.amazonaws.com", source_arn=<distribution ARN>`` for an
    edge's ``OriginAccessControl``). ``tls``/``ca``/``storage_dir``/``clock``/
    ``limits`` as for ``LocalContainer``.

    The CloudFront origin of this bucket is ``origin_url``
    (``https://127.0.0.1:PORT/<bucket>``).
    """

    handler_class = _BucketHandler
    origin = S3
    sigv4_signer = S3SigV4Auth
    _not_found_code = "NoSuchKey"

    def __init__(
        self,
        bucket: str = "live-origin",
        *,
        region: str = "us-west-2",
        account_id: str = "111122223333",
        policy: ContainerPolicy | str | Mapping[str, object] | None = None,
        owner_access: bool = True,
        tls: bool = True,
        ca: LocalCA | None = None,
        credentials: Mapping[str, str | LocalCredential] | None = None,
        storage_dir: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_object_size: int = MAX_S3_OBJECT_SIZE,
        clock: Callable[[], datetime.datetime] = utcnow,
        limits: ServerLimits | None = None,
    ) -> None:
        self.check_names(bucket, region, account_id)
        check_int("max_object_size", max_object_size, minimum=1)
        self.bucket = bucket
        self.owner_access = owner_access
        self.max_object_size = max_object_size
        self._policy_lock = threading.Lock()
        self.policy: ContainerPolicy | str | Mapping[str, object] | None = None
        self.put_policy(policy)
        super().__init__(
            region=region,
            account_id=account_id,
            tls=tls,
            ca=ca,
            credentials=credentials,
            storage_dir=storage_dir,
            host=host,
            port=port,
            clock=clock,
            limits=limits,
        )

    @staticmethod
    def check_names(name: str, region: str, account_id: str) -> str:
        """Refuse a bucket name, region or account id S3 would not take; the bucket's ARN."""
        arn = bucket_arn(name)  # checks the name
        check("account_id", account_id, matches(_ACCOUNT_RE, "12 digits"))
        check("region", region, matches(_REGION_RE, "an AWS region name like 'us-west-2'"))
        return arn

    def __repr__(self) -> str:
        state = self.base_url if self.running else "stopped"
        return f"LocalBucket(bucket={self.bucket!r}, {state})"

    def start(self) -> LocalBucket:
        """Start serving; returns ``self``."""
        super().start()
        return self

    def __enter__(self) -> LocalBucket:
        return self.start()

    # --- configuration (S3's PutBucketPolicy, and the IAM side of test credentials) -------

    def put_policy(self, policy: ContainerPolicy | str | Mapping[str, object] | None) -> None:
        """Replace the bucket policy (``None`` removes it), as ``PutBucketPolicy`` does.

        A policy the evaluator cannot decide (malformed, or an unsupported operator)
        is refused here with the evaluator's error, never at request time.
        """
        if policy is not None:
            evaluate_container_policy(
                policy,
                RequestContext(action="s3:GetObject", resource=s3_object_arn(self.bucket, "x")),
            )
        with self._policy_lock:
            self.policy = policy

    def add_credential(self, access_key_id: str, credential: str | LocalCredential) -> None:
        """Trust another access key (e.g. an OAC edge's, made after the bucket started)."""
        check_str("access_key_id", access_key_id)
        self._credentials[access_key_id] = as_credential(access_key_id, credential)

    # --- identity ------------------------------------------------------------------------

    @property
    def bucket_arn(self) -> str:
        """``arn:aws:s3:::<bucket>``."""
        return bucket_arn(self.bucket)

    def object_arn(self, key: str) -> str:
        """``arn:aws:s3:::<bucket>/<key>``."""
        return s3_object_arn(self.bucket, key)

    @property
    def origin_url(self) -> str:
        """What a ``LocalEdge`` takes as origin: the endpoint plus ``/<bucket>``."""
        return f"{self.endpoint}/{self.bucket}"

    def url(self, key: str) -> str:
        """The path-style URL of ``key``."""
        return f"{self.origin_url}/{quote(key, safe='/~')}"

    # --- test surface --------------------------------------------------------------------

    def keys(self) -> list[str]:
        """Every stored key, sorted (the same as ``paths``)."""
        return self.paths()

    def write(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = _DEFAULT_CONTENT_TYPE,
        cache_control: str | None = None,
    ) -> StoredObject:
        """Store an object directly (no HTTP, no policy): seed data for a test."""
        try:
            size = len(key.encode()) if isinstance(key, str) and key else None
        except UnicodeEncodeError:  # a lone surrogate is not UTF-8
            size = None
        if size is None or size > _MAX_KEY_BYTES:
            raise InvalidInputError(f"not an S3 key: {shown(key)}")
        check_header_value("content_type", check_str("content_type", content_type, empty=True))
        check_header_value("cache_control", cache_control)
        data = as_bytes("data", data)
        return self._commit(
            key,
            data,
            content_type=content_type,
            cache_control=cache_control,
            sha256_hex=hashlib.sha256(data).hexdigest(),
            md5_hex=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            storage_class="STANDARD",
            headers=(),
        )

    def put_count(self, key: str) -> int:
        """How many PUTs of ``key`` the bucket answered with 200."""
        target = f"/{self.bucket}/{key}"
        return sum(
            1
            for r in self.requests
            if r.method == "PUT" and unquote(urlsplit(r.path).path) == target and r.status == 200
        )

    # --- internals used by the handler ---------------------------------------------------

    def _commit(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        cache_control: str | None,
        sha256_hex: str,
        md5_hex: str,
        storage_class: str,
        headers: tuple[tuple[str, str], ...],
    ) -> StoredObject:
        meta = StoredObject(
            path=key,
            size=len(data),
            content_type=content_type,
            cache_control=cache_control,
            etag=f'"{md5_hex}"',
            content_sha256=sha256_hex,
            last_modified=self._clock().replace(microsecond=0),
            storage_class=storage_class,
            headers=headers,
        )
        self._store.put(meta, data)
        return meta

    def _decide(
        self, action: str, resource: str, caller: Caller, handler: RequestHandler
    ) -> tuple[bool, str]:
        """Whether ``caller`` may do ``action`` on ``resource``, and why."""
        with self._policy_lock:
            policy = self.policy
        result = None
        if policy is not None:
            result = evaluate_request(
                policy, action=action, resource=resource, caller=caller, handler=handler
            )
            if result.decision is not Decision.IMPLICIT_DENY:
                return result.allowed, result.reason
        principal = caller.principal or ""
        match = _ACCOUNT_PRINCIPAL_RE.fullmatch(principal)
        if self.owner_access and match is not None and match.group(1) == self.account_id:
            return True, f"{principal} belongs to the bucket owner's account"
        return False, result.reason if result is not None else "no bucket policy"
