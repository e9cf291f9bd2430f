"""What the local origins (a MediaStore container, an S3 bucket) have in common.

``LocalOrigin`` is their server base: SigV4 credentials, the object store
(``ObjectStore``, in memory or on disk), TLS from a
``LocalCA``, and the test surface (``read``,
``describe``, ``paths``, ``clear``). Each stands in for one
``Origin`` and takes its rules and limits from it.
``OriginHandler`` is their request handler base; ``evaluate_request`` checks
a request against a policy with the real connection's facts.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, cast

from botocore.auth import SigV4Auth

from mediastore_ingest._internal.jsonutil import strict_loads
from mediastore_ingest._internal.validate import (
    check,
    check_callable,
    check_path,
    check_port,
    check_str,
    instance_of,
    optional,
)
from mediastore_ingest.errors import InvalidInputError, LocalStackError, ObjectNotFoundError
from mediastore_ingest.iam.document import ContainerPolicy
from mediastore_ingest.iam.evaluate import (
    EvaluationResult,
    RequestContext,
    evaluate_container_policy,
)
from mediastore_ingest.origins import Origin
from mediastore_ingest.server.base import RequestHandler, ServerLimits
from mediastore_ingest.testing._recording import StoredObject
from mediastore_ingest.testing._sigv4 import (
    DEFAULT_CREDENTIALS,
    Caller,
    LocalCredential,
    credential_map,
)
from mediastore_ingest.testing._tls import LocalCA, TLSServer

__all__ = [
    "LocalOrigin",
    "ObjectStore",
    "OriginError",
    "OriginHandler",
    "evaluate_request",
    "parse_range",
]

_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")


class OriginError(Exception):
    """An error answer of a local origin (control flow inside its handler).

    ``status`` and ``code`` are what the origin answers, ``close`` whether the
    connection closes after the answer (the body was not read, or was broken).
    """

    def __init__(self, status: int, code: str, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.close = close


class ObjectStore:
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
                raise LocalStackError(f"cannot load the object store {directory}") from exc
            for file in files:
                try:
                    with file.open("rb") as fh:
                        document = strict_loads(
                            fh.readline(), error=InvalidInputError, what="object metadata"
                        )
                    meta = StoredObject.from_json(cast("Mapping[str, Any]", document))
                except (OSError, ValueError) as exc:  # InvalidInputError is a ValueError
                    raise LocalStackError(
                        f"cannot load the object store {directory}: "
                        f"corrupt entry {file.name}"
                    ) from exc
                self._meta[meta.path] = meta

    def _file(self, path: str) -> Path:
        assert self._directory is not None
        return self._directory / (hashlib.sha256(path.encode()).hexdigest() + ".obj")

    def put(self, meta: StoredObject, data: bytes) -> None:
        """Store ``data`` with ``meta`` at ``meta.path`` (atomically on disk)."""
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
        """The metadata and bytes at ``path``, or ``None``."""
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
        """The metadata at ``path``, or ``None``."""
        with self._lock:
            return self._meta.get(path)

    def delete(self, path: str) -> bool:
        """Remove the object at ``path``; False if there was none."""
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
        """Every object's metadata, sorted by path."""
        with self._lock:
            return sorted(self._meta.values(), key=lambda m: m.path)

    def clear(self) -> None:
        """Remove every object."""
        for meta in self.all():
            self.delete(meta.path)


def evaluate_request(
    policy: ContainerPolicy | str | Mapping[str, object],
    *,
    action: str,
    resource: str,
    caller: Caller,
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


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
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


class OriginHandler(RequestHandler):
    """What the handlers of the local origins share: object headers and ranges."""

    def object_headers(self, meta: StoredObject) -> list[tuple[str, str]]:
        """The headers every GET and HEAD of a stored object carries."""
        headers = [
            ("ETag", meta.etag),
            ("Last-Modified", email.utils.format_datetime(meta.last_modified, usegmt=True)),
            ("Accept-Ranges", "bytes"),
        ]
        if meta.cache_control is not None:
            headers.append(("Cache-Control", meta.cache_control))
        return headers

    def send_object(
        self, meta: StoredObject, data: bytes, headers: list[tuple[str, str]]
    ) -> bool:
        """Send ``data`` whole (200), or the part the request's ``Range`` asks for
        (206); False, with nothing sent, if that range is not satisfiable."""
        byte_range = parse_range(self.headers.get("Range"), len(data))
        if byte_range is None:
            self.send_body(200, data, content_type=meta.content_type, headers=headers)
            return True
        if isinstance(byte_range, str):  # unsatisfiable
            return False
        first, last = byte_range
        headers.append(("Content-Range", f"bytes {first}-{last}/{len(data)}"))
        self.send_body(
            206, data[first : last + 1], content_type=meta.content_type, headers=headers
        )
        return True


class LocalOrigin(TLSServer):
    """What ``LocalContainer`` and
    ``LocalBucket`` share: SigV4 credentials, the
    object store, TLS from a ``LocalCA`` and the test surface (``read``,
    ``describe``, ``paths``, ``clear``)."""

    #: The origin kind this server stands in for: its rules, limits and SigV4 service.
    origin: ClassVar[Origin]
    #: The botocore signer the origin's clients sign with (verification recomputes it).
    sigv4_signer: ClassVar[Any] = SigV4Auth
    #: The error code ``read`` and ``describe`` report for a missing object.
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
        limits: ServerLimits | None = None,
    ) -> None:
        # Everything that can fail comes before the store directory and the CA are made.
        check_callable("clock", clock)
        check_path("storage_dir", storage_dir)
        check_port(port)
        check("ca", ca, optional(instance_of(LocalCA)))
        self.region = region
        self.account_id = account_id
        self._clock = clock
        self._credentials = credential_map(
            DEFAULT_CREDENTIALS if credentials is None else credentials
        )
        self._store = ObjectStore(None if storage_dir is None else Path(storage_dir))
        super().__init__(host=host, port=port, tls=tls, ca=ca, limits=limits)

    # --- identity ----------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The data endpoint, e.g. ``https://127.0.0.1:PORT``."""
        return self.base_url

    @property
    def credentials(self) -> Mapping[str, LocalCredential]:
        """The access keys this server accepts for SigV4."""
        return dict(self._credentials)

    # --- test surface ------------------------------------------------------------------

    def read(self, path: str) -> bytes:
        """The bytes stored at ``path``; ``ObjectNotFoundError`` if none."""
        check_str("path", path, empty=True)
        found = self._store.get(path)
        if found is None:
            raise self._not_found(path)
        return found[1]

    def describe(self, path: str) -> StoredObject:
        """The metadata stored at ``path``; ``ObjectNotFoundError`` if none."""
        check_str("path", path, empty=True)
        meta = self._store.describe(path)
        if meta is None:
            raise self._not_found(path)
        return meta

    def _not_found(self, path: str) -> ObjectNotFoundError:
        return ObjectNotFoundError(
            f"no object at {path}", path=path, status=404, code=self._not_found_code
        )

    def paths(self) -> list[str]:
        """Every stored path, sorted."""
        return [meta.path for meta in self._store.all()]

    def clear(self) -> None:
        """Delete every object and forget the request log."""
        self._store.clear()
        self.clear_requests()
