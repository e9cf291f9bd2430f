"""The relay's store-and-forward journal: every object is on local disk before the
encoder hears 2xx, and stays there until the origin has it.

Layout of the directory (created ``0700``, every file ``0600``)::

    JOURNAL                 marker: what this directory is, and its format
    LOCK                    held (flock) by the one relay using the journal
    tmp/<arrival>.data      a body being received
    tmp/<arrival>.meta      its description, written once the body is complete
    entries/<arrival>.data  a complete object waiting for upload...
    entries/<arrival>.meta  ...committed by renaming this file in: the commit point
    failed/<arrival>.*      objects the origin refused for good (400, 413, ...)

``<arrival>`` is the arrival number (20 digits), increasing across runs: the order
the relay received the requests in. The ``.meta`` JSON records the object path, the
method, the request target, the headers that matter (Content-Type, Cache-Control,
Content-Encoding, Content-Language, Content-Disposition), what the upload will send
(Content-Type, Cache-Control, availability), the per-path sequence number, the size
and the CRC-32 of the body.

Write then rename: the body goes to ``tmp/``; once complete it is synced (``fsync``
``"data"`` or ``"data+dir"``), its ``.meta`` written and synced, the data renamed into
``entries/`` and then the ``.meta`` (with ``"data+dir"`` the directory is synced
too). A crash (``kill -9``) at any point leaves either a complete entry (both files,
size and CRC matching) or something ``Journal.open`` discards. ``fsync="none"``
survives the relay process dying (the kernel has the data) but not the machine losing
power; ``"data"`` keeps the bytes of a renamed entry; ``"data+dir"`` also the renames.

The journal is bounded (``max_bytes`` of bodies, ``max_objects`` entries, both
counting bodies still being received); ``Journal.begin`` and
``EntryWriter.write`` raise ``JournalFull`` past a bound.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import json
import logging
import os
import stat
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Literal

import attrs

from mediastore_ingest.errors import RelayError

__all__ = [
    "FSYNC_MODES",
    "Entry",
    "EntryWriter",
    "FsyncMode",
    "Journal",
    "JournalFull",
    "Replay",
    "WriterGone",
    "entry_headers",
    "is_journal",
]

logger = logging.getLogger("mediastore_ingest.relay.relay")

FsyncMode = Literal["none", "data", "data+dir"]
FSYNC_MODES: tuple[FsyncMode, ...] = ("none", "data", "data+dir")

#: The encoder headers a journal entry keeps.
KEPT_HEADERS = ("Content-Type", "Cache-Control", "Content-Encoding", "Content-Language",
                "Content-Disposition")

_FORMAT = 1
_MARKER = "JOURNAL"
_DIGITS = 20
_PATH_SEQ_MEMORY = 10_000  # per-path sequence counters kept (least recently used out)


def is_journal(directory: str | os.PathLike[str]) -> bool:
    """True when ``directory`` is a relay journal (it has the marker file)."""
    return Path(directory, _MARKER).is_file()


class JournalFull(Exception):
    """The journal is at its bound: ``reason`` is ``"bytes"`` or ``"objects"``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class WriterGone(Exception):
    """The body being followed was aborted: the encoder broke it off, or it was refused."""


@attrs.frozen
class Entry:
    """One complete object in the journal."""

    arrival: int
    path: str
    method: Literal["PUT", "DELETE"]
    path_seq: int
    size: int
    crc32: int
    received: float  # wall-clock seconds when it was committed
    target: str
    headers: tuple[tuple[str, str], ...]
    content_type: str | None
    cache_control: str | None
    availability: str | None
    data: str = attrs.field(repr=False)  # the body file

    def meta(self) -> dict[str, object]:
        """The ``.meta`` document."""
        return {
            "format": _FORMAT, "arrival": self.arrival, "path": self.path,
            "method": self.method, "path_seq": self.path_seq, "size": self.size,
            "crc32": self.crc32, "received": self.received, "target": self.target,
            "headers": [list(h) for h in self.headers], "content_type": self.content_type,
            "cache_control": self.cache_control, "availability": self.availability,
        }


@attrs.frozen
class Replay:
    """What ``Journal.open`` found from an earlier run."""

    entries: tuple[Entry, ...]
    superseded: tuple[Entry, ...]  # older versions of a path with a newer entry (removed)
    incomplete: int  # half-written entries discarded
    corrupt: int  # entries whose size, CRC or description did not check (discarded)
    failed: int  # objects in failed/ (kept for the operator, not retried)

    @property
    def bytes(self) -> int:
        """Body bytes of the entries to upload."""
        return sum(e.size for e in self.entries)


def _name(arrival: int, suffix: str) -> str:
    return f"{arrival:0{_DIGITS}d}.{suffix}"


def _arrival_of(name: str) -> int | None:
    stem, _, _ = name.partition(".")
    return int(stem) if len(stem) == _DIGITS and stem.isdigit() else None


def _write_new(path: Path, data: bytes, *, sync: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _refused(root: Path, exc: BaseException, hint: str) -> RelayError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return RelayError(f"cannot use the journal directory {str(root)!r}: {reason}. Hint: {hint}")


class Journal:
    """The journal in directory ``root`` (see the module docstring).

    Call ``open`` first (it creates the directory, takes the lock and reads what an
    earlier run left); ``close`` releases the lock. ``clock`` gives the wall-clock
    time recorded in the entries.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        max_bytes: int,
        max_objects: int,
        fsync: FsyncMode = "data",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if fsync not in FSYNC_MODES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_MODES)}")
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.max_objects = max_objects
        self.fsync = fsync
        self._clock = clock
        self._lock = threading.Lock()
        self._lock_fd: int | None = None
        self._next = 1
        self._bytes = 0  # committed entries (not failed/) plus bodies being received
        self._objects = 0
        self._path_seq: collections.OrderedDict[str, int] = collections.OrderedDict()

    @property
    def tmp(self) -> Path:
        """Bodies being received."""
        return self.root / "tmp"

    @property
    def entries(self) -> Path:
        """Complete entries waiting for upload."""
        return self.root / "entries"

    @property
    def failed(self) -> Path:
        """Objects the origin refused for good."""
        return self.root / "failed"

    # --- opening ----------------------------------------------------------------------

    def open(self) -> Replay:
        """Create or check the directory, take its lock, and read what an earlier run
        left: complete entries (newest version of each path; older ones are removed),
        discarding half-written ones. ``RelayError``
        (with a hint) when the directory cannot be used."""
        root = self.root
        hint = ("give --journal-dir (RelayConfig.journal_dir) a directory this user can "
                "create and write, on a local disk")
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = root.stat()
        except OSError as exc:
            raise _refused(root, exc, hint) from exc
        if not stat.S_ISDIR(info.st_mode):
            raise _refused(root, NotADirectoryError("not a directory"), hint)
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise _refused(root, PermissionError("owned by another user"),
                           "the journal holds unsigned media: use a directory of your own")
        if info.st_mode & 0o077:
            try:
                root.chmod(0o700)
            except OSError as exc:
                raise _refused(root, exc, hint) from exc
            logger.warning("journal: %s was open to other users (%o); now 0700",
                           root, stat.S_IMODE(info.st_mode))
        marker = root / _MARKER
        if marker.exists():
            try:
                found = json.loads(marker.read_text(encoding="utf-8")).get("format")
            except (OSError, ValueError, AttributeError) as exc:
                raise _refused(root, exc, "this is not a relay journal, or it is damaged") \
                    from exc
            if found != _FORMAT:
                raise _refused(root, ValueError(f"journal format {found!r}, expected "
                                                f"{_FORMAT}"), "use a new directory")
        elif any(p.name not in ("tmp", "entries", "failed", "LOCK") for p in root.iterdir()):
            raise _refused(root, FileExistsError("not empty and not a relay journal"),
                           "give an empty directory, or the journal of an earlier run")
        self._take_lock()
        try:
            self._probe(hint)
            if not marker.exists():
                _write_new(marker, json.dumps({
                    "format": _FORMAT, "what": "mediastore-ingest relay journal",
                }).encode(), sync=self.fsync != "none")
            for sub in (self.tmp, self.entries, self.failed):
                sub.mkdir(mode=0o700, exist_ok=True)
                if sub.stat().st_mode & 0o077:
                    sub.chmod(0o700)
            replay = self._scan()
        except BaseException:
            self.close()
            raise
        return replay

    def _take_lock(self) -> None:
        path = self.root / "LOCK"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            raise _refused(self.root, exc, "check the directory's permissions") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RelayError(
                    f"the journal {str(self.root)!r} is in use by another relay. Hint: give "
                    "each relay its own --journal-dir"
                ) from exc
            raise _refused(self.root, exc, "check the directory") from exc
        self._lock_fd = fd

    def _probe(self, hint: str) -> None:
        probe = self.root / f".probe-{os.getpid()}"
        try:
            _unlink(probe)
            _write_new(probe, b"probe", sync=self.fsync != "none")
            probe.unlink()
        except OSError as exc:
            raise _refused(self.root, exc, hint) from exc

    def _scan(self) -> Replay:
        incomplete = corrupt = 0
        for item in self.tmp.iterdir():
            _unlink(item)
            incomplete += 1
        names: dict[int, set[str]] = {}
        for item in self.entries.iterdir():
            arrival = _arrival_of(item.name)
            if arrival is None:
                _unlink(item)
                continue
            names.setdefault(arrival, set()).add(item.name.partition(".")[2])
        failed = {_arrival_of(p.name) for p in self.failed.iterdir()} - {None}
        found: list[Entry] = []
        for arrival, suffixes in sorted(names.items()):
            data = self.entries / _name(arrival, "data")
            meta = self.entries / _name(arrival, "meta")
            if suffixes == {"meta"} and (self.failed / _name(arrival, "data")).exists():
                meta.rename(self.failed / meta.name)  # a move to failed/ cut short
                continue
            if suffixes != {"data", "meta"}:
                incomplete += 1
                _unlink(data)
                _unlink(meta)
                continue
            entry = self._read_entry(arrival, meta, data)
            if entry is None:
                corrupt += 1
                _unlink(meta)
                _unlink(data)
                continue
            found.append(entry)
        newest: dict[str, Entry] = {}
        superseded: list[Entry] = []
        for entry in found:  # in arrival order: a later one replaces an earlier one
            older = newest.get(entry.path)
            if older is not None:
                superseded.append(older)
            newest[entry.path] = entry
        for entry in superseded:
            self._unlink_entry(entry)
        kept = tuple(sorted(newest.values(), key=lambda e: e.arrival))
        top = max([*names, *(a for a in failed if a is not None), 0])
        with self._lock:
            self._next = top + 1
            self._bytes = sum(e.size for e in kept)
            self._objects = len(kept)
            for entry in kept:
                self._remember_seq(entry.path, entry.path_seq)
        if self.fsync == "data+dir" and (superseded or incomplete or corrupt):
            _sync_dir(self.entries)
        return Replay(kept, tuple(superseded), incomplete, corrupt, len(failed))

    def _read_entry(self, arrival: int, meta: Path, data: Path) -> Entry | None:
        try:
            doc = json.loads(meta.read_text(encoding="utf-8"))
            if not isinstance(doc, Mapping) or doc.get("format") != _FORMAT:
                raise ValueError("unknown format")
            entry = Entry(
                arrival=arrival,
                path=str(doc["path"]),
                method="DELETE" if doc["method"] == "DELETE" else "PUT",
                path_seq=int(doc["path_seq"]),
                size=int(doc["size"]),
                crc32=int(doc["crc32"]),
                received=float(doc["received"]),
                target=str(doc["target"]),
                headers=tuple((str(k), str(v)) for k, v in doc["headers"]),
                content_type=_optional(doc.get("content_type")),
                cache_control=_optional(doc.get("cache_control")),
                availability=_optional(doc.get("availability")),
                data=str(data),
            )
            crc = 0
            size = 0
            with open(data, "rb") as fh:
                while piece := fh.read(1024 * 1024):
                    crc = zlib.crc32(piece, crc)
                    size += len(piece)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("journal: entry %d is unreadable (%s); discarded", arrival, exc)
            return None
        if size != entry.size or crc != entry.crc32:
            logger.warning("journal: entry %d (%s) does not match its description (%d of %d "
                           "bytes, CRC %s); discarded", arrival, entry.path, size, entry.size,
                           "ok" if crc == entry.crc32 else "wrong")
            return None
        return entry

    def close(self) -> None:
        """Release the lock (entries stay for the next run). Idempotent."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # --- state ------------------------------------------------------------------------

    def depth(self) -> tuple[int, int]:
        """(objects, body bytes) held: committed entries and bodies being received."""
        with self._lock:
            return self._objects, self._bytes

    def failed_count(self) -> int:
        """Objects in ``failed/``."""
        with contextlib.suppress(OSError):
            return sum(1 for p in self.failed.iterdir() if p.name.endswith(".meta"))
        return 0

    def _remember_seq(self, path: str, seq: int) -> None:
        seqs = self._path_seq
        seqs[path] = max(seq, seqs.get(path, 0))
        seqs.move_to_end(path)
        while len(seqs) > _PATH_SEQ_MEMORY:
            seqs.popitem(last=False)

    # --- writing ----------------------------------------------------------------------

    def begin(
        self,
        path: str,
        *,
        method: Literal["PUT", "DELETE"] = "PUT",
        target: str = "",
        headers: tuple[tuple[str, str], ...] = (),
        content_type: str | None = None,
        cache_control: str | None = None,
        availability: str | None = None,
        declared: int | None = None,
    ) -> EntryWriter:
        """Start an entry for ``path``; ``JournalFull`` when the journal is at its
        bound (``declared``: the announced body size, reserved now)."""
        reserve = declared or 0
        with self._lock:
            if self._objects + 1 > self.max_objects:
                raise JournalFull("objects", f"the journal holds {self._objects} objects, "
                                  f"its limit")
            if self._bytes + reserve > self.max_bytes:
                raise JournalFull("bytes", f"the journal holds {self._bytes} bytes; "
                                  f"{reserve} more would pass its limit of {self.max_bytes}")
            arrival = self._next
            self._next += 1
            seq = self._path_seq.get(path, 0) + 1
            self._remember_seq(path, seq)
            self._objects += 1
            self._bytes += reserve
        try:
            return EntryWriter(self, arrival, path, seq, method, target, headers,
                               content_type, cache_control, availability, reserve)
        except BaseException:
            with self._lock:
                self._objects -= 1
                self._bytes -= reserve
            raise

    def _grow(self, writer: EntryWriter, size: int) -> None:
        """Account for ``writer`` reaching ``size`` bytes (past its reservation)."""
        with self._lock:
            extra = size - writer.reserved
            if extra <= 0:
                return
            if self._bytes + extra > self.max_bytes:
                raise JournalFull("bytes", f"the journal would pass its limit of "
                                  f"{self.max_bytes} bytes")
            self._bytes += extra
            writer.reserved = size

    def _release(self, size: int, objects: int = 1) -> None:
        with self._lock:
            self._bytes -= size
            self._objects -= objects

    def remove(self, entry: Entry) -> None:
        """Forget an uploaded (or superseded) entry."""
        self._unlink_entry(entry)
        if self.fsync == "data+dir":
            with contextlib.suppress(OSError):
                _sync_dir(self.entries)
        self._release(entry.size)

    def _unlink_entry(self, entry: Entry) -> None:
        _unlink(self.entries / _name(entry.arrival, "meta"))  # first: then it is junk
        _unlink(self.entries / _name(entry.arrival, "data"))

    def quarantine(self, entry: Entry, reason: str) -> str:
        """Move an entry the origin refused for good to ``failed/``; its new data path."""
        data = self.failed / _name(entry.arrival, "data")
        meta = self.failed / _name(entry.arrival, "meta")
        with contextlib.suppress(OSError):
            doc = {**entry.meta(), "refused": reason}
            (self.entries / _name(entry.arrival, "meta")).write_text(
                json.dumps(doc), encoding="utf-8")
        os.replace(self.entries / _name(entry.arrival, "data"), data)
        os.replace(self.entries / _name(entry.arrival, "meta"), meta)
        if self.fsync == "data+dir":
            with contextlib.suppress(OSError):
                _sync_dir(self.entries)
                _sync_dir(self.failed)
        self._release(entry.size)
        return str(data)


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


class EntryWriter:
    """One entry being written: ``write`` the body, then ``commit`` (or
    ``abort``). ``follow`` reads the body as it is written (for an upload
    that streams it on). Used by one thread; ``follow`` from another."""

    def __init__(
        self,
        journal: Journal,
        arrival: int,
        path: str,
        path_seq: int,
        method: Literal["PUT", "DELETE"],
        target: str,
        headers: tuple[tuple[str, str], ...],
        content_type: str | None,
        cache_control: str | None,
        availability: str | None,
        reserved: int,
    ) -> None:
        self.journal = journal
        self.arrival = arrival
        self.path = path
        self.path_seq = path_seq
        self.method = method
        self.target = target
        self.headers = headers
        self.content_type = content_type
        self.cache_control = cache_control
        self.availability = availability
        self.reserved = reserved
        self.size = 0
        self.state: Literal["open", "complete", "committed", "aborted"] = "open"
        self.entry: Entry | None = None
        self._crc = 0
        self._cond = threading.Condition()
        self._tmp_data = journal.tmp / _name(arrival, "data")
        self._fd: int | None = os.open(
            self._tmp_data,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600,
        )

    def write(self, piece: bytes | bytearray | memoryview) -> None:
        """Append ``piece``; ``JournalFull`` past the bound (then ``abort``)."""
        if self.state != "open" or self._fd is None:
            raise RelayError("the journal entry is not open")
        size = len(piece)
        if not size:
            return
        self.journal._grow(self, self.size + size)
        view = memoryview(piece)
        while view:
            view = view[os.write(self._fd, view):]
        self._crc = zlib.crc32(piece, self._crc)
        with self._cond:
            self.size += size
            self._cond.notify_all()

    def commit(self) -> Entry:
        """Make the entry durable (see the module docstring) and return it."""
        if self.state != "open" or self._fd is None:
            raise RelayError("the journal entry is not open")
        journal = self.journal
        sync = journal.fsync != "none"
        with self._cond:
            self.state = "complete"  # the body is whole: a follower may finish
            self._cond.notify_all()
        try:
            if sync:
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            entry = Entry(
                arrival=self.arrival, path=self.path, method=self.method,
                path_seq=self.path_seq, size=self.size, crc32=self._crc,
                received=journal._clock(), target=self.target, headers=self.headers,
                content_type=self.content_type, cache_control=self.cache_control,
                availability=self.availability,
                data=str(journal.entries / _name(self.arrival, "data")),
            )
            tmp_meta = journal.tmp / _name(self.arrival, "meta")
            _write_new(tmp_meta, json.dumps(entry.meta()).encode(), sync=sync)
            os.replace(self._tmp_data, entry.data)
            os.replace(tmp_meta, journal.entries / _name(self.arrival, "meta"))
            if journal.fsync == "data+dir":
                _sync_dir(journal.entries)
        except BaseException:
            self.abort()
            raise
        with journal._lock:  # the reservation becomes the real size
            journal._bytes += self.size - self.reserved
            self.reserved = self.size
        with self._cond:
            self.state = "committed"
            self.entry = entry
            self._cond.notify_all()
        return entry

    def abort(self) -> None:
        """Throw the entry away (the body was broken or refused). Idempotent."""
        with self._cond:
            if self.state in ("aborted", "committed"):
                return
            self.state = "aborted"
            self._cond.notify_all()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        _unlink(self._tmp_data)
        _unlink(self.journal.tmp / _name(self.arrival, "meta"))
        _unlink(self.journal.entries / _name(self.arrival, "data"))
        self.journal._release(self.reserved)

    def follow(self, piece_size: int = 256 * 1024) -> Iterator[bytes]:
        """The body's bytes as they are written; ends when the body is complete,
        raises ``WriterGone`` if it is aborted."""
        offset = 0
        fd = self._open_for_reading()
        try:
            while True:
                with self._cond:
                    while self.size <= offset and self.state == "open":
                        self._cond.wait()
                    if self.state == "aborted":
                        raise WriterGone("the body was broken off")
                    available = self.size
                if available <= offset:
                    return  # complete and all handed out
                while offset < available:
                    piece = os.pread(fd, min(piece_size, available - offset), offset)
                    if not piece:
                        raise WriterGone("the journal file ended early")
                    offset += len(piece)
                    yield piece
        finally:
            os.close(fd)

    def _open_for_reading(self) -> int:
        flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
        for candidate in (self._tmp_data,
                          self.journal.entries / _name(self.arrival, "data")):
            with contextlib.suppress(FileNotFoundError):
                return os.open(candidate, flags)
        raise WriterGone("the body is no longer in the journal")

    def wait_settled(self, timeout: float | None = None) -> Entry | None:
        """Wait until the entry is committed (return it) or aborted (None)."""
        with self._cond:
            self._cond.wait_for(lambda: self.state in ("committed", "aborted"), timeout)
            return self.entry if self.state == "committed" else None


def entry_headers(headers: Mapping[str, str] | object) -> tuple[tuple[str, str], ...]:
    """The ``KEPT_HEADERS`` of a request's headers (first value of each)."""
    get = getattr(headers, "get", None)
    if not callable(get):
        return ()
    out = []
    for name in KEPT_HEADERS:
        value = get(name)
        if isinstance(value, str) and value:
            out.append((name, value[:1024]))
    return tuple(out)

