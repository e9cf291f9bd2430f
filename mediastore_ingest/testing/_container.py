"""``LocalContainer``: a MediaStore container's data plane on loopback.

It speaks the MediaStore data API (``PutObject``, ``GetObject`` with ``Range``,
``DescribeObject``, ``DeleteObject``, ``ListItems``) closely enough for botocore's own
``mediastore-data`` client, verifies SigV4 signatures with botocore's signer, and
enforces a container policy with :func:`mediastore_ingest.iam.evaluate.evaluate_container_policy`
using the real connection's facts (``aws:SecureTransport``, ``aws:UserAgent``,
``aws:SourceIp``).

Stored bytes are what tests assert on: :meth:`LocalContainer.read`,
:meth:`LocalContainer.paths`, and the request log :attr:`LocalContainer.requests`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import email.utils
import hashlib
import hmac
import itertools
import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mediastore_ingest._internal.validate import (
    as_bytes,
    check_callable,
    check_credentials,
    check_header_value,
    check_int,
    check_number,
    check_optional_str,
    check_path,
    check_port,
    check_str,
)
from mediastore_ingest.errors import (
    InvalidContentTypeError,
    InvalidInputError,
    InvalidPathError,
    LocalStackError,
    MediaStoreIngestError,
    ObjectNotFoundError,
    RequestBodyError,
)
from mediastore_ingest.iam.document import ContainerPolicy
from mediastore_ingest.iam.evaluate import (
    EvaluationResult,
    RequestContext,
    evaluate_container_policy,
)
from mediastore_ingest.origins import validate_content_type, validate_path
from mediastore_ingest.origins.mediastore import (
    ContainerPolicyBuilder,
    container_arn,
    mediastore_object_arn,
)
from mediastore_ingest.server.base import LocalHTTPServer, RequestHandler
from mediastore_ingest.testing._tls import LocalCA, bind_with_ca

__all__ = [
    "DEFAULT_CREDENTIALS",
    "LocalContainer",
    "LocalCredential",
    "StoredObject",
]

logger = logging.getLogger(__name__)

#: The access key pair a :class:`LocalContainer` accepts when none is given
#: (the AWS documentation's example pair; never a real credential).
DEFAULT_CREDENTIALS: Mapping[str, str] = {
    "AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}

MAX_OBJECT_SIZE = 25 * 1024 * 1024
MAX_STREAMING_OBJECT_SIZE = 10 * 1024 * 1024
#: MediaStore cancels a PUT whose object has not fully arrived within 30 seconds.
UPLOAD_TIMEOUT = 30.0
MAX_LIST_RESULTS = 1000
MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)

_LIST_PATH_RE = re.compile(r"/?(?:[A-Za-z0-9_.\-~]+/){0,10}(?:[A-Za-z0-9_.\-~]+)?/?")
_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,"
    r"\s*Signature=([0-9a-fA-F]+)\s*"
)
_HEX64_RE = re.compile(r"[0-9a-fA-F]{64}")
_MAX_PATH = 900
_DEFAULT_CONTENT_TYPE = "application/octet-stream"
_UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _secret_str(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value:
        # the value is a secret: never show it
        raise InvalidInputError(f"{attribute.name} must be a non-empty str")


def _optional_str(
    instance: object, attribute: attrs.Attribute[str | None], value: object
) -> None:
    check_optional_str(attribute.name, value, empty=True)  # "" meant "the default" before


@attrs.frozen
class LocalCredential:
    """An access key's secret and who it signs as.

    ``principal`` defaults to ``arn:aws:iam::<account>:user/<access key id>``;
    ``source_arn``/``source_account`` let a test double of a service (CloudFront with
    Origin Access Control) sign as ``{"Service": ...}`` with ``aws:SourceArn``.
    """

    secret_key: str = attrs.field(repr=False, validator=_secret_str)
    principal: str | None = attrs.field(default=None, validator=_optional_str)
    source_arn: str | None = attrs.field(default=None, validator=_optional_str)
    source_account: str | None = attrs.field(default=None, validator=_optional_str)


@attrs.frozen
class StoredObject:
    """What the container holds at one path (metadata; the bytes via ``read``)."""

    path: str
    size: int
    content_type: str
    cache_control: str | None
    etag: str
    content_sha256: str
    last_modified: datetime.datetime
    storage_class: str = "TEMPORAL"
    upload_availability: str = "STANDARD"
    #: Other headers stored with the object and sent back on GET/HEAD (an S3
    #: bucket's ``x-amz-meta-*``, ``Content-Encoding`` ...); empty for MediaStore.
    headers: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The metadata as a JSON-ready dict (for the on-disk store)."""
        extra: dict[str, Any] = {"headers": [list(h) for h in self.headers]} if self.headers else {}
        return extra | {
            "path": self.path,
            "size": self.size,
            "content_type": self.content_type,
            "cache_control": self.cache_control,
            "etag": self.etag,
            "content_sha256": self.content_sha256,
            "last_modified": self.last_modified.timestamp(),
            "storage_class": self.storage_class,
            "upload_availability": self.upload_availability,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> StoredObject:
        """Inverse of :meth:`to_json`; :class:`InvalidInputError` for anything else."""
        try:
            if not isinstance(document, Mapping):
                raise TypeError(f"a JSON object is needed, not {type(document).__name__}")
            cache_control = document.get("cache_control")
            if cache_control is not None and not isinstance(cache_control, str):
                raise TypeError("cache_control is not a str")
            return cls(
                path=str(document["path"]),
                size=int(document["size"]),
                content_type=str(document["content_type"]),
                cache_control=cache_control,
                etag=str(document["etag"]),
                content_sha256=str(document["content_sha256"]),
                last_modified=datetime.datetime.fromtimestamp(
                    float(document["last_modified"]), datetime.timezone.utc
                ),
                storage_class=str(document.get("storage_class", "TEMPORAL")),
                upload_availability=str(document.get("upload_availability", "STANDARD")),
                headers=tuple((str(k), str(v)) for k, v in document.get("headers", ())),
            )
        except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
            raise InvalidInputError(f"not a stored object's metadata: {exc!r:.200}") from exc


class _Upload:
    """A streaming upload in progress: readers follow it as bytes arrive."""

    def __init__(self, content_type: str, cache_control: str | None) -> None:
        self.content_type = content_type
        self.cache_control = cache_control
        self.buffer = bytearray()
        self.done = False
        self.failed = False
        self.cond = threading.Condition()

    def append(self, data: bytes) -> None:
        with self.cond:
            self.buffer += data
            self.cond.notify_all()

    def end(self, *, failed: bool) -> None:
        with self.cond:
            self.done = True
            self.failed = failed
            self.cond.notify_all()

    def read_from(self, offset: int, stopping: threading.Event) -> tuple[bytes, bool]:
        """Wait for bytes past ``offset``; return them and whether the upload ended."""
        with self.cond:
            while len(self.buffer) <= offset and not self.done and not stopping.is_set():
                self.cond.wait(timeout=1.0)
            return bytes(self.buffer[offset:]), self.done or stopping.is_set()


class _Store:
    """Thread-safe object index, in memory or in a directory (one file per object)."""

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._meta: dict[str, StoredObject] = {}
        self._data: dict[str, bytes] = {}
        if directory is not None:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                files = sorted(directory.glob("*.obj"))
            except OSError as exc:
                raise LocalStackError(f"cannot load the container store {directory}") from exc
            for file in files:
                try:
                    with file.open("rb") as fh:
                        meta = StoredObject.from_json(json.loads(fh.readline()))
                except (OSError, ValueError) as exc:  # InvalidInputError is a ValueError
                    raise LocalStackError(
                        f"cannot load the container store {directory}: "
                        f"corrupt entry {file.name}"
                    ) from exc
                self._meta[meta.path] = meta

    def _file(self, path: str) -> Path:
        assert self._directory is not None
        return self._directory / (hashlib.sha256(path.encode()).hexdigest() + ".obj")

    def put(self, meta: StoredObject, data: bytes) -> None:
        if self._directory is None:
            with self._lock:
                self._meta[meta.path] = meta
                self._data[meta.path] = data
            return
        header = json.dumps(meta.to_json()).encode() + b"\n"
        fd, temp = tempfile.mkstemp(dir=self._directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(header)
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            with self._lock:
                os.replace(temp, self._file(meta.path))
                self._meta[meta.path] = meta
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise LocalStackError(f"cannot store {meta.path}") from exc

    def get(self, path: str) -> tuple[StoredObject, bytes] | None:
        with self._lock:
            meta = self._meta.get(path)
            if meta is None:
                return None
            if self._directory is None:
                return meta, self._data[path]
            try:
                with self._file(path).open("rb") as fh:
                    fh.readline()
                    return meta, fh.read()
            except OSError as exc:
                raise LocalStackError(f"cannot read {path}") from exc

    def describe(self, path: str) -> StoredObject | None:
        with self._lock:
            return self._meta.get(path)

    def delete(self, path: str) -> bool:
        with self._lock:
            if self._meta.pop(path, None) is None:
                return False
            self._data.pop(path, None)
            if self._directory is not None:
                try:
                    self._file(path).unlink()
                except OSError as exc:
                    raise LocalStackError(f"cannot delete {path}") from exc
            return True

    def all(self) -> list[StoredObject]:
        with self._lock:
            return sorted(self._meta.values(), key=lambda m: m.path)

    def clear(self) -> None:
        for meta in self.all():
            self.delete(meta.path)


class _ApiError(Exception):
    """An error answer (internal control flow of the handler)."""

    def __init__(
        self, status: int, code: str, message: str, *, close: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.close = close


def _validate_path(raw: str) -> str:
    try:
        return validate_path(unquote(raw))
    except InvalidPathError as exc:
        raise _ApiError(400, "ValidationException", "Invalid path") from exc


@attrs.frozen
class _Caller:
    principal: str | None
    source_arn: str | None = None
    source_account: str | None = None


class SigV4Failure(Exception):
    """Why a SigV4 signature was refused; each server maps ``kind`` to its own error.

    Kinds: ``malformed`` (Authorization header or credential scope), ``unknown_key``,
    ``scope`` (wrong region or service), ``bad_date`` (missing/invalid X-Amz-Date),
    ``date_mismatch`` (scope date differs from X-Amz-Date), ``skew`` (outside
    :data:`MAX_CLOCK_SKEW`), ``headers`` (host unsigned, or signed headers differ),
    ``payload_hash`` (an invalid ``x-amz-content-sha256``), ``mismatch``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def verify_sigv4(
    handler: RequestHandler,
    header: str,
    payload: bytes | None,
    *,
    credentials: Mapping[str, LocalCredential],
    region: str,
    service: str,
    account_id: str,
    now: datetime.datetime,
    payload_tokens: frozenset[str] = frozenset({_UNSIGNED_PAYLOAD}),
) -> _Caller:
    """Verify the SigV4 ``Authorization`` header of the request ``handler`` serves.

    botocore's own signer recomputes the signature (``S3SigV4Auth`` for ``s3``: no
    path normalisation). ``payload`` is the body when it was read before verifying;
    it is only hashed when the request carries no ``x-amz-content-sha256``, whose
    value (a hex digest or one of ``payload_tokens``) is otherwise what was signed.
    Returns who signed; raises :class:`SigV4Failure`.
    """
    match = _AUTH_RE.fullmatch(header.strip())
    if match is None:
        raise SigV4Failure("malformed", "Malformed Authorization header")
    credential, signed_headers, signature = match.groups()
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SigV4Failure("malformed", "Malformed credential scope")
    access_key, date, scope_region, scope_service, _ = parts
    identity = credentials.get(access_key)
    if identity is None:
        raise SigV4Failure(
            "unknown_key", "The security token included in the request is invalid"
        )
    if scope_region != region or scope_service != service:
        raise SigV4Failure("scope", "Credential should be scoped to this region")
    amz_date = handler.headers.get("X-Amz-Date", "")
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc
        )
    except ValueError as exc:
        raise SigV4Failure("bad_date", "Missing or invalid X-Amz-Date") from exc
    if amz_date[:8] != date:
        raise SigV4Failure("date_mismatch", "Credential date does not match X-Amz-Date")
    if abs(now - when) > MAX_CLOCK_SKEW:
        raise SigV4Failure("skew", "Signature expired")
    names = signed_headers.split(";")
    if "host" not in names:
        raise SigV4Failure("headers", "The host header must be signed")

    scheme = "https" if handler.tls else "http"
    request = AWSRequest(
        method=handler.command,
        url=f"{scheme}://{handler.headers.get('Host', '')}{handler.path}",
        data=payload if payload is not None else b"",
    )
    for name in names:
        for value in handler.headers.get_all(name) or []:
            request.headers[name] = value
    request.context["timestamp"] = amz_date
    auth_class = S3SigV4Auth if service == "s3" else SigV4Auth
    signer = auth_class(Credentials(access_key, identity.secret_key), service, region)
    headers_to_sign = signer.headers_to_sign(request)
    if signer.signed_headers(headers_to_sign) != signed_headers:
        raise SigV4Failure("headers", "Signed headers do not match")
    claimed = handler.headers.get("X-Amz-Content-SHA256")
    if claimed is not None and claimed not in payload_tokens and not _HEX64_RE.fullmatch(claimed):
        raise SigV4Failure("payload_hash", "Invalid x-amz-content-sha256")
    # Without x-amz-content-sha256 the payload line is the body's hash: the body is
    # in ``payload`` (read before verifying) or there is none (hash of b"").
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    if not hmac.compare_digest(expected, signature.lower()):
        raise SigV4Failure(
            "mismatch",
            "The request signature we calculated does not match the signature you provided",
        )
    principal = identity.principal or f"arn:aws:iam::{account_id}:user/{access_key}"
    return _Caller(
        principal=principal,
        source_arn=identity.source_arn,
        source_account=identity.source_account,
    )


def evaluate_request(
    policy: ContainerPolicy | str | Mapping[str, object],
    *,
    action: str,
    resource: str,
    caller: _Caller,
    handler: RequestHandler,
) -> EvaluationResult:
    """The policy's decision for ``action`` on ``resource`` by ``caller``, with the real
    connection's facts (``aws:SecureTransport``, ``aws:UserAgent``, ``aws:SourceIp``)."""
    context = RequestContext(
        action=action,
        resource=resource,
        principal=caller.principal,
        secure_transport=handler.tls,
        user_agent=handler.headers.get("User-Agent"),
        source_ip=handler.peer,
        source_arn=caller.source_arn,
        source_account=caller.source_account,
        extra={},
    )
    return evaluate_container_policy(policy, context)


# SigV4Failure.kind -> MediaStore's status and error code (InvalidSignatureException otherwise)
_SIGV4_ERRORS: dict[str, tuple[int, str]] = {
    "malformed": (403, "IncompleteSignatureException"),
    "bad_date": (403, "IncompleteSignatureException"),
    "unknown_key": (403, "UnrecognizedClientException"),
    "payload_hash": (400, "InvalidSignatureException"),
}


class _ContainerHandler(RequestHandler):
    """Routes data-plane requests of one :class:`LocalContainer`."""

    @property
    def container(self) -> LocalContainer:
        return cast(LocalContainer, self.owner)

    def send_response(self, code: int, message: str | None = None) -> None:
        super().send_response(code, message)
        if code >= 200:
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))

    def _send_error(self, error: _ApiError, *, head: bool = False) -> None:
        if error.close:
            self.close_connection = True
        self.send_json(
            error.status,
            {"__type": error.code, "Message": error.message},
            headers=[("x-amzn-ErrorType", error.code)],
            head=head,
            content_type="application/x-amz-json-1.1",
        )

    def _dispatch(self, operation: Callable[[str, str], None]) -> None:
        split = urlsplit(self.path)
        try:
            operation(split.path, split.query)
        except _ApiError as error:
            self._send_error(error, head=self.command == "HEAD")
        except MediaStoreIngestError as exc:
            logger.warning("LocalContainer internal error: %s", exc)
            self._send_error(
                _ApiError(500, "InternalServerError", "Internal error"),
                head=self.command == "HEAD",
            )

    def do_GET(self) -> None:
        """GetObject, or ListItems for ``/``."""
        if urlsplit(self.path).path == "/":
            self._dispatch(self._list_items)
        else:
            self._dispatch(self._get_object)

    def do_HEAD(self) -> None:
        """DescribeObject."""
        self._dispatch(self._describe_object)

    def do_PUT(self) -> None:
        """PutObject."""
        self._dispatch(self._put_object)

    def do_DELETE(self) -> None:
        """DeleteObject."""
        self._dispatch(self._delete_object)

    # --- authentication and authorisation -------------------------------------------

    def _authenticate(self, payload: bytes | None) -> _Caller:
        """Anonymous, or a verified SigV4 caller. ``payload`` is the body if read."""
        header = self.headers.get("Authorization")
        if header is None:
            return _Caller(principal=None)
        container = self.container
        try:
            return verify_sigv4(
                self,
                header,
                payload,
                credentials=container._credentials,
                region=container.region,
                service="mediastore",
                account_id=container.account_id,
                now=container._clock(),
            )
        except SigV4Failure as failure:
            status, code = _SIGV4_ERRORS.get(failure.kind, (403, "InvalidSignatureException"))
            raise _ApiError(status, code, failure.message) from failure

    def _authorize(self, action: str, resource: str, caller: _Caller) -> None:
        result = evaluate_request(
            self.container.policy, action=action, resource=resource, caller=caller, handler=self
        )
        if not result.allowed:
            logger.debug("LocalContainer denied %s on %s: %s", action, resource, result.reason)
            raise _ApiError(403, "AccessDeniedException", "Access Denied")

    def _needs_payload_for_signature(self) -> bool:
        return (
            self.headers.get("Authorization") is not None
            and self.headers.get("X-Amz-Content-SHA256") is None
            and self.has_body()
        )

    # --- operations -------------------------------------------------------------------

    def _put_object(self, raw_path: str, query: str) -> None:
        container = self.container
        path = _validate_path(raw_path.lstrip("/"))
        content_type = self.headers.get("Content-Type", _DEFAULT_CONTENT_TYPE)
        try:
            validate_content_type(content_type, path=path)
        except InvalidContentTypeError as exc:
            raise _ApiError(400, "ValidationException", "Invalid Content-Type") from exc
        storage_class = self.headers.get("x-amz-storage-class", "TEMPORAL")
        if storage_class.upper() != "TEMPORAL":
            raise _ApiError(400, "ValidationException", "Invalid storage class")
        availability = self.headers.get("x-amz-upload-availability", "STANDARD").upper()
        if availability not in ("STANDARD", "STREAMING"):
            raise _ApiError(400, "ValidationException", "Invalid upload availability")
        streaming = availability == "STREAMING"
        if streaming and not self.is_chunked:
            raise _ApiError(
                400,
                "ValidationException",
                "Streaming upload availability requires Transfer-Encoding chunked",
            )
        limit = container.max_streaming_object_size if streaming else container.max_object_size
        try:
            declared = self.content_length()
        except RequestBodyError as exc:
            raise _ApiError(
                400, "ValidationException", "Invalid Content-Length", close=True
            ) from exc
        if declared is not None and declared > limit:
            raise _ApiError(413, "RequestEntityTooLargeException", "Object too large")

        deferred = self._needs_payload_for_signature()
        caller = None if deferred else self._authenticate(None)
        if caller is not None:
            self._authorize("mediastore:PutObject", container.object_arn(path), caller)

        upload = None
        if streaming and caller is not None:
            upload = _Upload(content_type, self.headers.get("Cache-Control"))
            container._begin_stream(path, upload)
        digest = hashlib.sha256()
        parts: list[bytes] = []
        try:
            for piece in self._body_before_deadline(limit):
                digest.update(piece)
                parts.append(piece)
                if upload is not None:
                    upload.append(piece)
        except RequestBodyError as exc:
            if upload is not None:
                container._end_stream(path, upload, failed=True)
            if exc.reason == "too_large":
                raise _ApiError(
                    413, "RequestEntityTooLargeException", "Object too large", close=True
                ) from exc
            if exc.reason == "malformed":
                raise _ApiError(400, "ValidationException", "Malformed body", close=True) from exc
            logger.debug("LocalContainer: upload of %s cut off; nothing stored", path)
            self.abort_connection()
            return
        data = b"".join(parts)
        committed = False
        try:
            if caller is None:
                caller = self._authenticate(data)
                self._authorize("mediastore:PutObject", container.object_arn(path), caller)
            claimed = self.headers.get("X-Amz-Content-SHA256")
            if (
                claimed is not None
                and claimed != _UNSIGNED_PAYLOAD
                and claimed.lower() != digest.hexdigest()
            ):
                raise _ApiError(
                    400,
                    "XAmzContentSHA256Mismatch",
                    "The provided x-amz-content-sha256 does not match",
                )
            meta = container._commit(
                path,
                data,
                content_type=content_type,
                cache_control=self.headers.get("Cache-Control"),
                sha256_hex=digest.hexdigest(),
                upload_availability=availability,
            )
            committed = True
        finally:
            if upload is not None:
                container._end_stream(path, upload, failed=not committed)
        self.send_json(
            200,
            {
                "ContentSHA256": meta.content_sha256,
                "ETag": meta.etag,
                "StorageClass": meta.storage_class,
            },
        )

    def _body_before_deadline(self, limit: int) -> Iterator[bytes]:
        """The body's pieces, as long as the whole arrives within the container's
        ``upload_timeout`` of the request head (MediaStore cancels the request
        otherwise): a stalled or trickling upload ends in RequestBodyError."""
        timeout = self.container.upload_timeout
        if timeout is None:
            yield from self.iter_body(max_size=limit)
            return
        deadline = time.monotonic() + timeout
        body = self.iter_body(max_size=limit)
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RequestBodyError(
                        f"upload not finished within {timeout} s", reason="incomplete"
                    )
                # A read that waits past the deadline times out (and ends the body).
                self.request.settimeout(min(remaining, self.timeout))
                try:
                    piece = next(body)
                except StopIteration:
                    return
                yield piece
        finally:
            body.close()
            with contextlib.suppress(OSError):
                self.request.settimeout(self.timeout)

    def _object_headers(self, meta: StoredObject) -> list[tuple[str, str]]:
        headers = [
            ("ETag", meta.etag),
            ("Last-Modified", email.utils.format_datetime(meta.last_modified, usegmt=True)),
            ("Accept-Ranges", "bytes"),
        ]
        if meta.cache_control is not None:
            headers.append(("Cache-Control", meta.cache_control))
        return headers

    def _get_object(self, raw_path: str, query: str) -> None:
        container = self.container
        path = _validate_path(raw_path.lstrip("/"))
        self._authorize(
            "mediastore:GetObject", container.object_arn(path), self._authenticate(None)
        )
        upload = container._stream(path)
        if upload is not None:
            self._follow_stream(upload)
            return
        found = container._store.get(path)
        if found is None:
            raise _ApiError(404, "ObjectNotFoundException", "Object not found")
        meta, data = found
        headers = self._object_headers(meta)
        byte_range = _parse_range(self.headers.get("Range"), len(data))
        if byte_range is None:
            self.send_body(200, data, content_type=meta.content_type, headers=headers)
            return
        if isinstance(byte_range, str):  # unsatisfiable
            code = "RequestedRangeNotSatisfiableException"
            self.send_json(
                416,
                {"__type": code, "Message": "Requested range not satisfiable"},
                headers=[("x-amzn-ErrorType", code), ("Content-Range", f"bytes */{len(data)}")],
                content_type="application/x-amz-json-1.1",
            )
            return
        first, last = byte_range
        headers.append(("Content-Range", f"bytes {first}-{last}/{len(data)}"))
        self.send_body(206, data[first : last + 1], content_type=meta.content_type, headers=headers)

    def _follow_stream(self, upload: _Upload) -> None:
        headers = [("Cache-Control", upload.cache_control)] if upload.cache_control else []
        self.start_chunked(200, content_type=upload.content_type, headers=headers)
        offset = 0
        stopping = self.container._stopping
        while True:
            data, ended = upload.read_from(offset, stopping)
            self.write_chunk(data)
            offset += len(data)
            if ended:
                break
        if upload.failed or stopping.is_set():
            # The upload was cut off: end without the last chunk so the reader sees it.
            self.abort_connection()
            return
        self.end_chunked()

    def _describe_object(self, raw_path: str, query: str) -> None:
        container = self.container
        path = _validate_path(raw_path.lstrip("/"))
        self._authorize(
            "mediastore:DescribeObject", container.object_arn(path), self._authenticate(None)
        )
        meta = container._store.describe(path)
        if meta is None:
            raise _ApiError(404, "ObjectNotFoundException", "Object not found")
        self.send_body(
            200,
            content_type=meta.content_type,
            headers=self._object_headers(meta),
            head=True,
            content_length=meta.size,
        )

    def _delete_object(self, raw_path: str, query: str) -> None:
        container = self.container
        path = _validate_path(raw_path.lstrip("/"))
        self._authorize(
            "mediastore:DeleteObject", container.object_arn(path), self._authenticate(None)
        )
        if not container._store.delete(path):
            raise _ApiError(404, "ObjectNotFoundException", "Object not found")
        self.send_json(200, {})

    def _list_items(self, raw_path: str, query: str) -> None:
        container = self.container
        params = parse_qs(query, keep_blank_values=True)
        folder = params.get("Path", [""])[0]
        if len(folder) > _MAX_PATH or not _LIST_PATH_RE.fullmatch(folder):
            raise _ApiError(400, "ValidationException", "Invalid path")
        folder = folder.strip("/")
        if any(segment in (".", "..") for segment in folder.split("/")):
            raise _ApiError(400, "ValidationException", "Invalid path: dot segments")
        max_results = MAX_LIST_RESULTS
        if "MaxResults" in params:
            value = params["MaxResults"][0]
            if not value.isdigit() or not 1 <= int(value) <= MAX_LIST_RESULTS:
                raise _ApiError(400, "ValidationException", "Invalid MaxResults")
            max_results = int(value)
        after = None
        if "NextToken" in params:
            after = _decode_token(params["NextToken"][0], folder)
        self._authorize(
            "mediastore:ListItems", container.object_arn(folder), self._authenticate(None)
        )
        items = container._list_folder(folder)
        if after is not None:
            items = [item for item in items if item["Name"] > after]
        page, rest = items[:max_results], items[max_results:]
        document: dict[str, Any] = {"Items": page}
        if rest:
            document["NextToken"] = _encode_token(folder, page[-1]["Name"])
        self.send_json(200, document)


def _encode_token(folder: str, last_name: str) -> str:
    raw = json.dumps([folder, last_name]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, folder: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        token_folder, last_name = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise _ApiError(400, "ValidationException", "Invalid NextToken") from exc
    if token_folder != folder or not isinstance(last_name, str):
        raise _ApiError(400, "ValidationException", "NextToken does not match the path")
    return last_name


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """``(first, last)``, ``"unsatisfiable"``, or ``None`` (no or ignorable Range)."""
    if header is None:
        return None
    match = _RANGE_RE.fullmatch(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None  # RFC 9110: an unparsable Range is ignored
    first_s, last_s = match.groups()
    if not first_s:  # suffix: the last N bytes
        suffix = int(last_s)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    first = int(first_s)
    if last_s and int(last_s) < first:
        return None  # RFC 9110: an invalid range is ignored
    if first >= size:
        return "unsatisfiable"
    last = int(last_s) if last_s else size - 1
    return first, min(last, size - 1)


def as_credential(
    access_key_id: str, value: object, *, what: str = "credential"
) -> LocalCredential:
    """``value`` (a secret key or a :class:`LocalCredential`) as a LocalCredential."""
    if isinstance(value, LocalCredential):
        return value
    if not isinstance(value, str) or not value:
        # the value is a secret: never show it
        raise InvalidInputError(
            f"{what} of {access_key_id!r} must be a non-empty secret key str or a "
            f"LocalCredential, not {type(value).__name__}"
        )
    return LocalCredential(value)


def _credentials(value: object) -> dict[str, LocalCredential]:
    return {
        key: as_credential(key, secret, what="credentials value")
        for key, secret in check_credentials(value).items()
    }


class _LocalOrigin(LocalHTTPServer):
    """What :class:`LocalContainer` and :class:`~mediastore_ingest.testing.LocalBucket`
    share: SigV4 credentials, the object store, TLS from a :class:`LocalCA`, the
    lifecycle and the test surface (``read``, ``describe``, ``paths``, ``clear``)."""

    #: The error code :meth:`read` and :meth:`describe` report for a missing object.
    _not_found_code = "ObjectNotFoundException"

    def __init__(
        self,
        *,
        region: str,
        account_id: str,
        tls: bool,
        ca: LocalCA | None,
        credentials: Mapping[str, str | LocalCredential] | None,
        storage_dir: str | os.PathLike[str] | None,
        host: str,
        port: int,
        clock: Callable[[], datetime.datetime],
    ) -> None:
        # Everything that can fail comes before the store directory and the CA are made.
        check_callable("clock", clock)
        check_path("storage_dir", storage_dir)
        check_port(port)
        if ca is not None and not isinstance(ca, LocalCA):
            raise InvalidInputError(f"ca must be a LocalCA or None, not {type(ca).__name__}")
        self.region = region
        self.account_id = account_id
        self._clock = clock
        self._credentials = _credentials(
            DEFAULT_CREDENTIALS if credentials is None else credentials
        )
        self._store = _Store(None if storage_dir is None else Path(storage_dir))
        self._ca, self._owns_ca = bind_with_ca(
            super().__init__, host=host, port=port, tls=tls, ca=ca
        )

    # --- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Stop, and remove the CA files if this server created the CA."""
        self.stop()
        if self._owns_ca and self._ca is not None:
            self._ca.close()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- identity ----------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The data endpoint, e.g. ``https://127.0.0.1:PORT``."""
        return self.base_url

    @property
    def ca_bundle(self) -> str | None:
        """Path of the CA PEM that signed the server certificate (``None`` without TLS)."""
        return None if self._ca is None else self._ca.ca_bundle

    @property
    def ca(self) -> LocalCA | None:
        """The :class:`LocalCA` in use, if any."""
        return self._ca

    @property
    def credentials(self) -> Mapping[str, LocalCredential]:
        """The access keys this server accepts for SigV4."""
        return dict(self._credentials)

    # --- test surface ------------------------------------------------------------------

    def read(self, path: str) -> bytes:
        """The bytes stored at ``path``; :class:`ObjectNotFoundError` if none."""
        check_str("path", path, empty=True)
        found = self._store.get(path)
        if found is None:
            raise ObjectNotFoundError(
                f"no object at {path}", path=path, status=404, code=self._not_found_code
            )
        return found[1]

    def describe(self, path: str) -> StoredObject:
        """The metadata stored at ``path``; :class:`ObjectNotFoundError` if none."""
        check_str("path", path, empty=True)
        meta = self._store.describe(path)
        if meta is None:
            raise ObjectNotFoundError(
                f"no object at {path}", path=path, status=404, code=self._not_found_code
            )
        return meta

    def paths(self) -> list[str]:
        """Every stored path, sorted."""
        return [meta.path for meta in self._store.all()]

    def clear(self) -> None:
        """Delete every object and forget the request log."""
        self._store.clear()
        self.clear_requests()


class LocalContainer(_LocalOrigin):
    """A MediaStore container on ``127.0.0.1`` for tests, with policy enforcement.

    ``policy`` is the container policy (JSON text, mapping or ``ContainerPolicy``);
    ``None`` means MediaStore's default (the account has full access, HTTPS only).
    ``credentials`` maps access key ids to secrets (or :class:`LocalCredential`) for
    SigV4-signed requests; anonymous requests are evaluated with no principal.
    ``tls=True`` serves HTTPS with a certificate from ``ca`` (a fresh :class:`LocalCA`
    by default). ``storage_dir`` keeps objects on disk (atomically), so a new
    container on the same directory sees them; by default they live in memory.

    Policy resources: ``<container ARN>/<path>`` for object operations and
    ``<container ARN>/<folder>`` (``<container ARN>/`` at the root) for ``ListItems``,
    so MediaStore's default ``container/<name>/*`` resource covers both.
    """

    handler_class = _ContainerHandler

    def __init__(
        self,
        name: str = "live",
        *,
        region: str = "us-west-2",
        account_id: str = "111122223333",
        policy: ContainerPolicy | str | Mapping[str, object] | None = None,
        tls: bool = True,
        ca: LocalCA | None = None,
        credentials: Mapping[str, str | LocalCredential] | None = None,
        storage_dir: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_object_size: int = MAX_OBJECT_SIZE,
        max_streaming_object_size: int = MAX_STREAMING_OBJECT_SIZE,
        upload_timeout: float | None = UPLOAD_TIMEOUT,
        clock: Callable[[], datetime.datetime] = _utcnow,
    ) -> None:
        # Everything that can fail comes before the CA (temporary files) is made.
        self._container_arn = container_arn(region, account_id, name)  # validates all three
        check_int("max_object_size", max_object_size, minimum=1)
        check_int("max_streaming_object_size", max_streaming_object_size, minimum=1)
        if upload_timeout is not None:
            check_number("upload_timeout", upload_timeout)
        #: Seconds a PUT may take from its headers to its last body byte (``None``: no limit).
        self.upload_timeout = upload_timeout
        self.name = name
        self.policy: ContainerPolicy | str | Mapping[str, object] = (
            ContainerPolicyBuilder(region=region, account_id=account_id, container=name)
            .allow_account_full_access()
            .build()
            if policy is None
            else policy
        )
        evaluate_container_policy(  # a policy that cannot be evaluated fails here
            self.policy,
            RequestContext(
                action="mediastore:GetObject",
                resource=mediastore_object_arn(region, account_id, name, "x"),
            ),
        )
        self.max_object_size = max_object_size
        self.max_streaming_object_size = max_streaming_object_size
        self._streams: dict[str, _Upload] = {}
        self._streams_lock = threading.Condition()
        self._stopping = threading.Event()
        self._sequence = itertools.count(1)
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
        )

    def __repr__(self) -> str:
        state = self.base_url if self.running else "stopped"
        return f"LocalContainer(name={self.name!r}, {state})"

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> LocalContainer:
        """Start serving; returns ``self``."""
        self._stopping.clear()
        super().start()
        return self

    def __enter__(self) -> LocalContainer:
        return self.start()

    def _on_stop(self) -> None:
        self._stopping.set()
        with self._streams_lock:
            uploads = list(self._streams.values())
        for upload in uploads:
            with upload.cond:
                upload.cond.notify_all()

    # --- identity ----------------------------------------------------------------------

    @property
    def container_arn(self) -> str:
        """``arn:aws:mediastore:<region>:<account>:container/<name>``."""
        return self._container_arn

    def object_arn(self, path: str) -> str:
        """The policy resource for an operation on ``path`` (a folder for ``ListItems``)."""
        return mediastore_object_arn(self.region, self.account_id, self.name, path)

    # --- test surface ------------------------------------------------------------------

    def write(
        self,
        path: str,
        data: bytes,
        *,
        content_type: str = _DEFAULT_CONTENT_TYPE,
        cache_control: str | None = None,
    ) -> StoredObject:
        """Store an object directly (no HTTP, no policy): seed data for a test.

        Raises :class:`InvalidPathError` / :class:`InvalidContentTypeError` for what
        the container would refuse over HTTP.
        """
        validate_path(path)
        validate_content_type(content_type, path=path)
        check_header_value("cache_control", cache_control)
        data = as_bytes("data", data)
        return self._commit(
            path,
            data,
            content_type=content_type,
            cache_control=cache_control,
            sha256_hex=hashlib.sha256(data).hexdigest(),
            upload_availability="STANDARD",
        )

    def put_count(self, path: str) -> int:
        """How many PUTs of ``path`` the container answered with 200."""
        return sum(
            1
            for r in self.requests
            if r.method == "PUT" and urlsplit(r.path).path.lstrip("/") == path and r.status == 200
        )

    # --- internals used by the handler ----------------------------------------------------

    def _commit(
        self,
        path: str,
        data: bytes,
        *,
        content_type: str,
        cache_control: str | None,
        sha256_hex: str,
        upload_availability: str,
    ) -> StoredObject:
        sequence = next(self._sequence)
        etag = hashlib.sha256(f"{sha256_hex}:{path}:{sequence}:{uuid.uuid4()}".encode()).hexdigest()
        meta = StoredObject(
            path=path,
            size=len(data),
            content_type=content_type,
            cache_control=cache_control,
            etag=etag,
            content_sha256=sha256_hex,
            last_modified=self._clock().replace(microsecond=0),
            upload_availability=upload_availability,
        )
        self._store.put(meta, data)
        return meta

    def _begin_stream(self, path: str, upload: _Upload) -> None:
        with self._streams_lock:
            self._streams[path] = upload
            self._streams_lock.notify_all()

    def wait_for_streaming_upload(
        self, path: str, *, min_bytes: int = 1, timeout: float = 10.0
    ) -> bytes:
        """Block until a streaming upload of ``path`` is in progress with ``min_bytes``.

        Returns the bytes received so far. Raises :class:`LocalStackError` after
        ``timeout`` seconds (a safety net for a broken test) or if the upload ends first.
        """
        check_str("path", path, empty=True)
        check_int("min_bytes", min_bytes, minimum=0)
        check_number("timeout", timeout, zero=True)
        with self._streams_lock:
            if not self._streams_lock.wait_for(lambda: path in self._streams, timeout):
                raise LocalStackError(f"no streaming upload of {path} within {timeout} s")
            upload = self._streams[path]
        with upload.cond:
            ready = upload.cond.wait_for(
                lambda: len(upload.buffer) >= min_bytes or upload.done, timeout
            )
            if not ready or len(upload.buffer) < min_bytes:
                raise LocalStackError(
                    f"the streaming upload of {path} did not reach {min_bytes} bytes"
                )
            return bytes(upload.buffer)

    def _end_stream(self, path: str, upload: _Upload, *, failed: bool) -> None:
        with self._streams_lock:
            if self._streams.get(path) is upload:
                del self._streams[path]
        upload.end(failed=failed)

    def _stream(self, path: str) -> _Upload | None:
        with self._streams_lock:
            return self._streams.get(path)

    def _list_folder(self, folder: str) -> list[dict[str, Any]]:
        prefix = f"{folder}/" if folder else ""
        objects: list[dict[str, Any]] = []
        folders: set[str] = set()
        for meta in self._store.all():
            if not meta.path.startswith(prefix):
                continue
            rest = meta.path[len(prefix) :]
            head, sep, _ = rest.partition("/")
            if sep:
                folders.add(head)
            else:
                objects.append(
                    {
                        "Name": rest,
                        "Type": "OBJECT",
                        "ETag": meta.etag,
                        "LastModified": meta.last_modified.timestamp(),
                        "ContentType": meta.content_type,
                        "ContentLength": meta.size,
                    }
                )
        items = objects + [{"Name": name, "Type": "FOLDER"} for name in folders]
        return sorted(items, key=lambda item: str(item["Name"]))

