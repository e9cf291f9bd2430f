"""Request bodies that can be sent again from their start (for retries).

* ``bytes``/``bytearray``/``memoryview``: kept as given, re-sent as is.
* a ``str``: the content itself, sent as UTF-8 (a manifest is text), as boto3 takes
  ``Body=str``. A ``str`` is never a file name.
* a file path (``os.PathLike``, e.g. ``pathlib.Path``): opened afresh for every attempt.
* a binary file object: seekable ones are rewound to the offset they had when the
  upload started; non-seekable ones are read like a generator.
* an iterable/generator of bytes: sent chunked; the pieces are kept as they stream
  up to a buffer limit so a failed attempt can be replayed. Past the limit the buffer
  is dropped, and a failure can no longer be retried
  ([`BodyNotRetryableError`][mediastore_ingest.errors.BodyNotRetryableError]).

With a `SizeLimit` (`mediastore_ingest.ingest.limits`), a body of known size
over it is refused at once and a stream is stopped when it passes it.

A file (path or file object) that cannot be read, or a stream that yields something
other than bytes, ends the upload with
[`InvalidInputError`][mediastore_ingest.errors.InvalidInputError] chaining the cause; an
exception raised by the caller's own iterable or generator is raised as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO, Union

from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.ingest._retry import Rewindable
from mediastore_ingest.ingest.limits import SizeLimit
from mediastore_ingest.ingest.transports.base import BodyReadError, raise_original

__all__ = ["Body", "BodySource", "make_body"]

CHUNK_SIZE = 1024 * 1024

Body = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", BinaryIO, Iterable[bytes]]


def _read_failed(message: str, cause: BaseException | None = None) -> BodyReadError:
    """The internal wrapper of an InvalidInputError (chaining ``cause``)."""
    error = InvalidInputError(message)
    error.__cause__ = cause
    return BodyReadError(error)


class BodySource(Rewindable):
    """A body the client can send once per attempt.

    ``size`` is the length in bytes, or ``None`` when unknown (sent chunked).
    """

    size: int | None = None
    kind: str = "body"

    def __init__(self) -> None:
        self.opened = 0

    def open(self) -> Iterator[bytes]:
        """The body's pieces for a new attempt, from its start."""
        self.opened += 1
        return self._pieces()

    def _pieces(self) -> Iterator[bytes]:
        raise NotImplementedError

    def sha256_hex(self) -> str:
        """Hex SHA-256 of the whole body (for S3 origins behind OAC)."""
        raise InvalidInputError(
            f"cannot compute x-amz-content-sha256 of a {self.kind} body before sending it; "
            "pass bytes or a file"
        )

    @property
    def retried(self) -> bool:
        """True once the body was sent more than once."""
        return self.opened > 1


class BytesBody(BodySource):
    """An in-memory body."""

    kind = "bytes"

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        super().__init__()
        view = memoryview(data)
        self._data: bytes | memoryview = data if isinstance(data, bytes) else view.cast("B")
        self.size = view.nbytes

    def _pieces(self) -> Iterator[bytes]:
        data = self._data
        if len(data) <= CHUNK_SIZE:
            if len(data):
                yield bytes(data) if isinstance(data, memoryview) else data
            return
        view = memoryview(data)
        for start in range(0, len(view), CHUNK_SIZE):
            yield view[start : start + CHUNK_SIZE]  # type: ignore[misc]

    def sha256_hex(self) -> str:
        """Hex SHA-256 of the data."""
        return hashlib.sha256(self._data).hexdigest()


def _read_exact(f: BinaryIO, size: int, what: str) -> Iterator[bytes]:
    remaining = size
    while remaining:
        try:
            piece = f.read(min(CHUNK_SIZE, remaining))
        except (OSError, ValueError) as exc:
            raise _read_failed(f"reading {what} failed: {exc}", exc) from exc
        if not isinstance(piece, (bytes, bytearray, memoryview)):
            raise _read_failed(f"{what} must be opened in binary mode: read() gave "
                               f"{type(piece).__name__}")
        if not piece:
            raise _read_failed(f"{what} ended after {size - remaining} of {size} bytes")
        remaining -= len(piece)
        yield piece


class FileBody(BodySource):
    """A file on disk, opened afresh for every attempt; its size is taken once."""

    kind = "file"

    def __init__(self, filename: os.PathLike[str]) -> None:
        super().__init__()
        try:
            self._filename = os.fspath(filename)
        except TypeError as exc:
            raise InvalidInputError(f"not a usable body file path: {exc}") from exc
        try:
            self.size = os.stat(self._filename).st_size
        except (OSError, ValueError) as exc:  # ValueError: NUL byte, unencodable name
            raise InvalidInputError(f"cannot read body file {self._filename!r}: {exc}") from exc

    def _pieces(self) -> Iterator[bytes]:
        try:
            f = open(self._filename, "rb")  # noqa: SIM115 - closed in finally
        except (OSError, ValueError) as exc:
            raise _read_failed(f"cannot open body file {self._filename!r}: {exc}", exc) from exc
        try:
            assert self.size is not None
            yield from _read_exact(f, self.size, f"file {self._filename!r}")
        finally:
            f.close()

    def sha256_hex(self) -> str:
        """Hex SHA-256 of the file's first ``size`` bytes."""
        return _sha256_of(self._pieces())


class SeekableFileBody(BodySource):
    """An open seekable binary file: every attempt starts at the original offset."""

    kind = "file object"

    def __init__(self, f: BinaryIO) -> None:
        super().__init__()
        self._f = f
        try:
            self._start = f.tell()
            end = f.seek(0, io.SEEK_END)
            f.seek(self._start)
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot seek in the body file object: {exc}") from exc
        self.size = max(0, end - self._start)

    def _pieces(self) -> Iterator[bytes]:
        try:
            self._f.seek(self._start)
        except (OSError, ValueError) as exc:
            raise _read_failed(f"cannot rewind the body file: {exc}", exc) from exc
        assert self.size is not None
        yield from _read_exact(self._f, self.size, "the body file object")

    def sha256_hex(self) -> str:
        """Hex SHA-256 of the file from its start offset."""
        return _sha256_of(self._pieces())


def _sha256_of(pieces: Iterator[bytes]) -> str:
    h = hashlib.sha256()
    try:
        for piece in pieces:
            h.update(piece)
    except BodyReadError as exc:
        raise_original(exc)
    return h.hexdigest()


class IterableBody(BodySource):
    """A one-shot stream of pieces, sent chunked, buffered up to ``buffer_limit``
    bytes so it can be replayed after a failed attempt. ``what`` names it in errors;
    exceptions of the ``read_errors`` types become InvalidInputError (a file object's
    failures), any other is the caller's own and is raised as it is. With
    ``size_limit``, an attempt that passes the limit is stopped (the stream is closed)
    with its ObjectTooLargeError before the piece that crosses it is sent."""

    kind = "streamed"

    def __init__(
        self,
        pieces: Iterable[bytes],
        *,
        buffer_limit: int,
        what: str = "the streamed body",
        read_errors: tuple[type[Exception], ...] = (),
        size_limit: SizeLimit | None = None,
    ) -> None:
        super().__init__()
        self._size_limit = size_limit
        self._what = what
        self._read_errors = read_errors
        self._iter = iter(pieces)
        self._limit = buffer_limit
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._overflow = False
        self.size = None

    def can_retry(self) -> bool:
        """False once more than ``buffer_limit`` bytes were pulled from the stream."""
        return not self._overflow

    def _pieces(self) -> Iterator[bytes]:
        if self._overflow:
            raise _read_failed(f"{self._what} cannot be replayed")
        limit = self._size_limit.limit if self._size_limit is not None else None
        total = sum(map(len, self._buffer))
        yield from list(self._buffer)
        while True:
            try:
                piece = next(self._iter)
            except StopIteration:
                return
            except self._read_errors as exc:
                raise _read_failed(f"reading {self._what} failed: {exc}", exc) from exc
            except Exception as exc:  # the caller's own: raised as it is
                raise BodyReadError(exc) from exc
            if not isinstance(piece, (bytes, bytearray, memoryview)):
                raise _read_failed(
                    f"{self._what} must yield bytes, not {type(piece).__name__}"
                )
            data = bytes(piece)
            if not data:
                continue
            total += len(data)
            if limit is not None and total > limit:
                self._stop()
                assert self._size_limit is not None
                raise BodyReadError(self._size_limit.error(total, stopped=True))
            if not self._overflow:
                self._buffered += len(data)
                if self._buffered > self._limit:
                    self._overflow = True
                    self._buffer.clear()
                else:
                    self._buffer.append(data)
            yield data

    def _stop(self) -> None:
        """Close the caller's stream (a generator's ``finally`` runs now)."""
        self._overflow = True  # never replayed
        self._buffer.clear()
        close = getattr(self._iter, "close", None)
        if callable(close):
            # the caller's own clean-up failing must not hide the limit error
            with contextlib.suppress(Exception):
                close()


def _text(body: str) -> BytesBody:
    try:
        return BytesBody(body.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"a str body is sent as its UTF-8 text, and this one cannot be encoded "
            f"({exc.reason} at position {exc.start}); for a file, pass pathlib.Path(name)"
        ) from exc


def make_body(
    body: object, *, buffer_limit: int, size_limit: SizeLimit | None = None
) -> BodySource:
    """Wrap any accepted body kind in a `BodySource`; with ``size_limit``, refuse a
    known size over it and stop a stream at it."""
    source = _make_body(body, buffer_limit=buffer_limit, size_limit=size_limit)
    if size_limit is not None:
        size_limit.check(source.size)
    return source


def _make_body(body: object, *, buffer_limit: int, size_limit: SizeLimit | None) -> BodySource:
    if isinstance(body, BodySource):
        return body
    if isinstance(body, (bytes, bytearray, memoryview)):
        return BytesBody(body)
    if isinstance(body, str):
        return _text(body)
    if isinstance(body, os.PathLike):
        return FileBody(body)
    if isinstance(body, io.TextIOBase):
        raise InvalidInputError("a body file must be opened in binary mode ('rb')")
    read = getattr(body, "read", None)
    if callable(read):
        f: BinaryIO = body  # type: ignore[assignment]
        seekable = getattr(body, "seekable", None)
        try:
            is_seekable = callable(seekable) and seekable()
        except (OSError, ValueError) as exc:  # e.g. a closed file
            raise InvalidInputError(f"cannot use the body file object: {exc}") from exc
        if is_seekable:
            return SeekableFileBody(f)
        return IterableBody(
            iter(lambda: f.read(CHUNK_SIZE), b""), buffer_limit=buffer_limit,
            what="the body file object", read_errors=(OSError, ValueError),
            size_limit=size_limit,
        )
    if isinstance(body, Iterable):
        return IterableBody(body, buffer_limit=buffer_limit, size_limit=size_limit)
    raise InvalidInputError(
        "body must be bytes, a str (its UTF-8 text), a file path (os.PathLike), a binary "
        f"file object or an iterable of bytes, not {type(body).__name__}"
    )


def in_memory(body: BodySource, *, limit: int) -> BodySource:
    """``body`` read once into memory, when it fits in ``limit`` bytes.

    For origins that need the body's SHA-256 *before* it is sent (S3 behind Origin
    Access Control): a file is then read once (hashed and sent from memory, retries
    included) instead of twice, and a streamed body can be sent at all. A file larger
    than ``limit`` is returned as it is (hashed in a first pass, then sent); a streamed
    body larger than ``limit`` raises `InvalidInputError`.
    """
    if isinstance(body, BytesBody):
        return body
    if body.size is not None and body.size > limit:
        return body
    pieces: list[bytes] = []
    total = 0
    try:
        for piece in body.open():
            total += len(piece)
            if total > limit:
                raise InvalidInputError(
                    f"a {body.kind} body over {limit} bytes cannot be sent to this origin: "
                    "its SHA-256 must be known before the first byte leaves (write it to a "
                    "file, or raise IngestConfig.retry_buffer_limit)"
                )
            pieces.append(bytes(piece))
    except BodyReadError as exc:
        raise_original(exc)
    return BytesBody(b"".join(pieces))
