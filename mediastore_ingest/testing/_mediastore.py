"""``LocalContainer``: a MediaStore container's data plane on loopback.

It speaks the MediaStore data API (``PutObject``, ``GetObject`` with ``Range``,
``DescribeObject``, ``DeleteObject``, ``ListItems``) closely enough for botocore's own
``mediastore-data`` client, verifies SigV4 signatures with botocore's signer, and
enforces a container policy with ``mediastore_ingest.iam.evaluate.evaluate_container_policy``
using the real connection's facts (``aws:SecureTransport``, ``aws:UserAgent``,
``aws:SourceIp``). Paths, Content-Types, size limits and the upload deadline are
those of ``MEDIASTORE``.

Stored bytes are what tests assert on: ``LocalContainer.read``,
``LocalContainer.paths``, and the request log ``LocalContainer.requests``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import itertools
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from mediastore_ingest._internal.jsonutil import strict_loads
from mediastore_ingest._internal.validate import (
    as_bytes,
    check_header_value,
    check_int,
    check_number,
    check_str,
)
from mediastore_ingest.errors import (
    InvalidContentTypeError,
    InvalidPathError,
    LocalStackError,
    MediaStoreIngestError,
    RequestBodyError,
)
from mediastore_ingest.iam.document import ContainerPolicy
from mediastore_ingest.iam.evaluate import RequestContext, evaluate_container_policy
from mediastore_ingest.origins import MEDIASTORE
from mediastore_ingest.origins.mediastore import (
    ContainerPolicyBuilder,
    container_arn,
    mediastore_object_arn,
)
from mediastore_ingest.server.base import ServerLimits
from mediastore_ingest.testing._origin import (
    LocalOrigin,
    OriginError,
    OriginHandler,
    evaluate_request,
)
from mediastore_ingest.testing._recording import StoredObject
from mediastore_ingest.testing._sigv4 import (
    UNSIGNED_PAYLOAD,
    Caller,
    LocalCredential,
    SigV4Failure,
    verify_sigv4,
)
from mediastore_ingest.testing._tls import LocalCA, utcnow

__all__ = ["LocalContainer"]

logger = logging.getLogger(__name__)

MAX_LIST_RESULTS = 1000

_LIST_PATH_RE = re.compile(r"/?(?:[A-Za-z0-9_.\-~]+/){0,10}(?:[A-Za-z0-9_.\-~]+)?/?")
_MAX_LIST_PATH = 900
_DEFAULT_CONTENT_TYPE = "application/octet-stream"


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


# SigV4Failure.kind -> MediaStore's status and error code (InvalidSignatureException otherwise)
_SIGV4_ERRORS: dict[str, tuple[int, str]] = {
    "malformed": (403, "IncompleteSignatureException"),
    "bad_date": (403, "IncompleteSignatureException"),
    "unknown_key": (403, "UnrecognizedClientException"),
    "payload_hash": (400, "InvalidSignatureException"),
}


class _ContainerHandler(OriginHandler):
    """Routes data-plane requests of one ``LocalContainer``."""

    @property
    def container(self) -> LocalContainer:
        return cast(LocalContainer, self.owner)

    def _object_path(self, raw_path: str) -> str:
        try:
            return self.container.origin.validate_path(unquote(raw_path.lstrip("/")))
        except InvalidPathError as exc:
            raise OriginError(400, "ValidationException", "Invalid path") from exc

    def send_response(self, code: int, message: str | None = None) -> None:
        super().send_response(code, message)
        if code >= 200:
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))

    def _send_error(self, error: OriginError, *, head: bool = False) -> None:
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
        except OriginError as error:
            self._send_error(error, head=self.command == "HEAD")
        except MediaStoreIngestError as exc:
            logger.warning("LocalContainer internal error: %s", exc)
            self._send_error(
                OriginError(500, "InternalServerError", "Internal error"),
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

    def _authenticate(self, payload: bytes | None) -> Caller:
        """Anonymous, or a verified SigV4 caller. ``payload`` is the body if read."""
        header = self.headers.get("Authorization")
        if header is None:
            return Caller(principal=None)
        container = self.container
        try:
            return verify_sigv4(
                self,
                header,
                payload,
                credentials=container._credentials,
                region=container.region,
                service=container.origin.sigv4_service,
                account_id=container.account_id,
                now=container._clock(),
                signer_class=container.sigv4_signer,
            )
        except SigV4Failure as failure:
            status, code = _SIGV4_ERRORS.get(failure.kind, (403, "InvalidSignatureException"))
            raise OriginError(status, code, failure.message) from failure

    def _authorize(self, action: str, resource: str, caller: Caller) -> None:
        result = evaluate_request(
            self.container.policy, action=action, resource=resource, caller=caller, handler=self
        )
        if not result.allowed:
            logger.debug("LocalContainer denied %s on %s: %s", action, resource, result.reason)
            raise OriginError(403, "AccessDeniedException", "Access Denied")

    def _needs_payload_for_signature(self) -> bool:
        return (
            self.headers.get("Authorization") is not None
            and self.headers.get("X-Amz-Content-SHA256") is None
            and self.has_body()
        )

    # --- operations -------------------------------------------------------------------

    def _put_object(self, raw_path: str, query: str) -> None:
        container = self.container
        path = self._object_path(raw_path)
        content_type = self.headers.get("Content-Type", _DEFAULT_CONTENT_TYPE)
        try:
            container.origin.validate_content_type(content_type, path=path)
        except InvalidContentTypeError as exc:
            raise OriginError(400, "ValidationException", "Invalid Content-Type") from exc
        storage_class = self.headers.get("x-amz-storage-class", "TEMPORAL")
        if storage_class.upper() != "TEMPORAL":
            raise OriginError(400, "ValidationException", "Invalid storage class")
        availability = self.headers.get("x-amz-upload-availability", "STANDARD").upper()
        if availability not in ("STANDARD", "STREAMING"):
            raise OriginError(400, "ValidationException", "Invalid upload availability")
        streaming = availability == "STREAMING"
        if streaming and not self.is_chunked:
            raise OriginError(
                400,
                "ValidationException",
                "Streaming upload availability requires Transfer-Encoding chunked",
            )
        limit = container.max_streaming_object_size if streaming else container.max_object_size
        try:
            declared = self.content_length()
        except RequestBodyError as exc:
            raise OriginError(
                400, "ValidationException", "Invalid Content-Length", close=True
            ) from exc
        if declared is not None and declared > limit:
            raise OriginError(413, "RequestEntityTooLargeException", "Object too large")

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
                raise OriginError(
                    413, "RequestEntityTooLargeException", "Object too large", close=True
                ) from exc
            if exc.reason == "malformed":
                raise OriginError(400, "ValidationException", "Malformed body", close=True) from exc
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
                and claimed != UNSIGNED_PAYLOAD
                and claimed.lower() != digest.hexdigest()
            ):
                raise OriginError(
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
        return self.iter_body(max_size=limit, within=self.container.upload_timeout)

    def _get_object(self, raw_path: str, query: str) -> None:
        container = self.container
        path = self._object_path(raw_path)
        self._authorize(
            "mediastore:GetObject", container.object_arn(path), self._authenticate(None)
        )
        upload = container._stream(path)
        if upload is not None:
            self._follow_stream(upload)
            return
        found = container._store.get(path)
        if found is None:
            raise OriginError(404, "ObjectNotFoundException", "Object not found")
        meta, data = found
        if not self.send_object(meta, data, self.object_headers(meta)):
            code = "RequestedRangeNotSatisfiableException"
            self.send_json(
                416,
                {"__type": code, "Message": "Requested range not satisfiable"},
                headers=[("x-amzn-ErrorType", code), ("Content-Range", f"bytes */{len(data)}")],
                content_type="application/x-amz-json-1.1",
            )

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
        path = self._object_path(raw_path)
        self._authorize(
            "mediastore:DescribeObject", container.object_arn(path), self._authenticate(None)
        )
        meta = container._store.describe(path)
        if meta is None:
            raise OriginError(404, "ObjectNotFoundException", "Object not found")
        self.send_body(
            200,
            content_type=meta.content_type,
            headers=self.object_headers(meta),
            head=True,
            content_length=meta.size,
        )

    def _delete_object(self, raw_path: str, query: str) -> None:
        container = self.container
        path = self._object_path(raw_path)
        self._authorize(
            "mediastore:DeleteObject", container.object_arn(path), self._authenticate(None)
        )
        if not container._store.delete(path):
            raise OriginError(404, "ObjectNotFoundException", "Object not found")
        self.send_json(200, {})

    def _list_items(self, raw_path: str, query: str) -> None:
        container = self.container
        params = parse_qs(query, keep_blank_values=True)
        folder = params.get("Path", [""])[0]
        if len(folder) > _MAX_LIST_PATH or not _LIST_PATH_RE.fullmatch(folder):
            raise OriginError(400, "ValidationException", "Invalid path")
        folder = folder.strip("/")
        if any(segment in (".", "..") for segment in folder.split("/")):
            raise OriginError(400, "ValidationException", "Invalid path: dot segments")
        max_results = MAX_LIST_RESULTS
        if "MaxResults" in params:
            value = params["MaxResults"][0]
            if not value.isdigit() or not 1 <= int(value) <= MAX_LIST_RESULTS:
                raise OriginError(400, "ValidationException", "Invalid MaxResults")
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
        decoded = strict_loads(raw, error=ValueError, what="NextToken")
        if not isinstance(decoded, list) or len(decoded) != 2:
            raise ValueError("not a [folder, name] pair")
        token_folder, last_name = decoded
    except (binascii.Error, ValueError, TypeError) as exc:
        raise OriginError(400, "ValidationException", "Invalid NextToken") from exc
    if token_folder != folder or not isinstance(last_name, str):
        raise OriginError(400, "ValidationException", "NextToken does not match the path")
    return last_name


class LocalContainer(LocalOrigin):
    """A MediaStore container on ``127.0.0.1`` for tests, with policy enforcement.

    ``policy`` is the container policy (JSON text, mapping or ``ContainerPolicy``);
    ``None`` means MediaStore's default (the account has full access, HTTPS only).
    ``credentials`` maps access key ids to secrets (or ``LocalCredential``) for
    SigV4-signed requests; anonymous requests are evaluated with no principal.
    ``tls=True`` serves HTTPS with a certificate from ``ca`` (a fresh ``LocalCA``
    by default). ``storage_dir`` keeps objects on disk (atomically), so a new
    container on the same directory sees them; by default they live in memory.
    ``limits`` are the HTTP front end's (``ServerLimits``: head size, deadlines,
    connection caps; defaults when ``None``).

    Policy resources: ``<container ARN>/<path>`` for object operations and
    ``<container ARN>/<folder>`` (``<container ARN>/`` at the root) for ``ListItems``,
    so MediaStore's default ``container/<name>/*`` resource covers both.
    """

    handler_class = _ContainerHandler
    origin = MEDIASTORE

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
        max_object_size: int = MEDIASTORE.max_object_bytes,
        max_streaming_object_size: int = MEDIASTORE.size_limit(streaming=True),
        upload_timeout: float | None = MEDIASTORE.upload_deadline,
        clock: Callable[[], datetime.datetime] = utcnow,
        limits: ServerLimits | None = None,
    ) -> None:
        # Everything that can fail comes before the CA (temporary files) is made.
        self._container_arn = self.check_names(name, region, account_id)
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
            limits=limits,
        )

    @staticmethod
    def check_names(name: str, region: str, account_id: str) -> str:
        """Refuse a container name, region or account id MediaStore would not take;
        the container's ARN."""
        return container_arn(region, account_id, name)

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

        Raises ``InvalidPathError`` / ``InvalidContentTypeError`` for what
        the container would refuse over HTTP.
        """
        self.origin.validate_path(path)
        self.origin.validate_content_type(content_type, path=path)
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

        Returns the bytes received so far. Raises ``LocalStackError`` after
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
