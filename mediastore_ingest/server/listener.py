"""Accepting connections: the listening socket, admission, one thread per connection.

``Listener`` binds with a listen backlog of ``ServerLimits.backlog``, and
decides on each connection the moment it is accepted, before a byte of it is read:

- a peer outside the allow-list (``PeerFilter``)
  is closed: ``refused.peer_not_allowed``;
- over ``max_connections`` in all, or
  ``max_connections_per_peer`` from its address, it is closed:
  ``refused.too_many_connections`` / ``refused.too_many_from_peer``.

Closed, not answered ``503``: a refusal must cost nothing (no thread, no read, no
write), or the connections the caps are there to bound would take threads again; and
a ``503`` written before the request is read is destroyed by the reset the kernel
sends when a socket with unread input closes, so only a thread that reads (lingers)
could deliver it. A client sees the connection closed at once and may retry; nothing
of its request was taken.

Each admitted connection runs ``serve(socket, address)`` in a daemon thread of its
own; threads are bounded by ``max_connections``. Refusals are counted through
``count`` (the server's counters, which the connections add parse errors and
timeouts to).
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mediastore_ingest.server.limits import PeerFilter, ServerLimits

if TYPE_CHECKING:
    from mediastore_ingest.server.base import LocalHTTPServer

__all__ = ["Listener"]

logger = logging.getLogger(__name__)


class _Connection:
    """One admitted connection: its socket (the TLS one once wrapped), peer and thread."""

    __slots__ = ("peer", "pending_input", "sock", "thread")

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock = sock
        self.peer = peer
        self.thread: threading.Thread | None = None
        #: Set by the connection's handler: True while it holds received bytes that
        #: are not requests yet.
        self.pending_input: Callable[[], bool] = lambda: False


class Listener:
    """The listening socket of one server and the connections it admitted."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        owner: LocalHTTPServer,
        limits: ServerLimits,
        peers: PeerFilter,
        ssl_context: ssl.SSLContext | None,
        serve: Callable[[socket.socket, Any], None],
        count: Callable[[str], None],
        name: str,
    ) -> None:
        self.owner = owner
        self.limits = limits
        self.peers = peers
        self.ssl_context = ssl_context
        self._serve = serve
        self.count = count
        self._name = name
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(limits.backlog)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.socket = sock
        address = sock.getsockname()
        self.server_name, self.server_port = str(address[0]), int(address[1])
        self._wake_read, self._wake_write = socket.socketpair()
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, _Connection] = {}
        self._per_peer: Counter[str] = Counter()
        self._active = 0
        self._threads: set[threading.Thread] = set()
        self._stopping = threading.Event()

    # --- accepting -----------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Accept until ``shutdown``."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while not self._stopping.is_set():
                selector.select()
                if not self._stopping.is_set():
                    self._accept_waiting()

    def shutdown(self) -> None:
        """Stop accepting (the thread in ``serve_forever`` returns)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_write.send(b"x")

    def _accept_waiting(self) -> None:
        # Every connection waiting in the backlog, in one go: a burst is taken at once.
        while True:
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors...: refuse by not accepting
                self.count("accept_failed")
                logger.warning("%s: accept failed: %s", self._name, exc)
                self._stopping.wait(0.05)
                return
            self._admit(sock, address)

    def _admit(self, sock: socket.socket, address: Any) -> None:
        peer = str(address[0])
        limits = self.limits
        reason = None
        connection = None
        if not self.peers.admits(peer):
            reason = "peer_not_allowed"
        else:
            with self._lock:
                if self._active >= limits.max_connections:
                    reason = "too_many_connections"
                elif self._per_peer[peer] >= limits.max_connections_per_peer:
                    reason = "too_many_from_peer"
                else:
                    connection = _Connection(sock, peer)
                    thread = threading.Thread(
                        target=self._run, args=(connection, address), daemon=True,
                        name=f"{self._name} {peer}:{address[1]}",
                    )
                    connection.thread = thread
                    self._connections[sock] = connection
                    self._per_peer[peer] += 1
                    self._active += 1
                    self._threads.add(thread)
        if connection is None:
            self.count(f"refused.{reason}")
            logger.debug("%s: refused a connection from %s (%s)", self._name, peer, reason)
            sock.close()
            return
        assert connection.thread is not None
        connection.thread.start()

    def _run(self, connection: _Connection, address: Any) -> None:
        try:
            self._serve(connection.sock, address)
        except Exception:
            logger.debug("%s: connection from %s ended with an error", self._name, address,
                         exc_info=True)
        finally:
            with self._lock:
                self._connections.pop(connection.sock, None)
                self._per_peer[connection.peer] -= 1
                if not self._per_peer[connection.peer]:
                    del self._per_peer[connection.peer]
                self._active -= 1
                self._threads.discard(threading.current_thread())
            sock = connection.sock
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_WR)
            sock.close()

    # --- the connections, for their handlers and for stop() ---------------------------------

    def connection_of(self, sock: socket.socket) -> _Connection | None:
        """The record of the connection on ``sock``."""
        with self._lock:
            return self._connections.get(sock)

    def swap_connection(self, old: socket.socket, new: socket.socket) -> None:
        """The connection on ``old`` now runs on ``new`` (its TLS socket)."""
        with self._lock:
            connection = self._connections.pop(old, None)
            if connection is not None:
                connection.sock = new
                self._connections[new] = connection

    def forget_connection(self, sock: socket.socket) -> None:
        """``sock`` is being closed by its handler: not live any more."""
        with self._lock:
            self._connections.pop(sock, None)

    def live_connections(self) -> list[socket.socket]:
        with self._lock:
            return [c.sock for c in self._connections.values() if c.sock.fileno() >= 0]

    def has_pending_input(self) -> bool:
        """True when a live connection holds received bytes that are not requests yet,
        or has bytes (or an end of stream) waiting in its socket."""
        with self._lock:
            connections = list(self._connections.values())
        if any(c.pending_input() for c in connections):
            return True
        live = [c.sock for c in connections if c.sock.fileno() >= 0]
        if not live:
            return False
        readable = []
        with selectors.DefaultSelector() as selector:
            for sock in live:
                with contextlib.suppress(ValueError, OSError, KeyError):
                    selector.register(sock, selectors.EVENT_READ)
            with contextlib.suppress(ValueError, OSError):
                readable = selector.select(0)
        return bool(readable) or any(
            isinstance(s, ssl.SSLSocket) and s.fileno() >= 0 and s.pending() for s in live
        )

    def close_connections(self) -> None:
        """Shut every live connection down (their threads then end)."""
        with self._lock:
            live = [c.sock for c in self._connections.values()]
        for sock in live:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def join_handlers(self, timeout: float) -> None:
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def active_connections(self) -> int:
        """Connections admitted and not finished."""
        with self._lock:
            return self._active

    def server_close(self) -> None:
        self.socket.close()
        self._wake_read.close()
        self._wake_write.close()
