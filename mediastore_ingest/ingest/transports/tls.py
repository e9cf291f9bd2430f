"""TLS session resumption for the ingest client's connection pools.

urllib3 2.x gives no way to hand a saved `ssl.SSLSession` to a new
connection: its ``connect()`` ends in ``ssl_context.wrap_socket(sock,
server_hostname=...)`` without a ``session``. It does take our ``ssl_context``, so
the context is where resumption goes: `ResumingContext` is an
`ssl.SSLContext` whose `wrap_socket()` offers the last
session the same server gave (keyed by server name and peer address), and whose
sockets remember the session the server issued once they have read from it (a TLS
1.3 ticket arrives after the handshake, with the first response bytes; a TLS 1.2
session exists when the handshake ends).

What it buys: TLS 1.2 resumes in one round trip instead of two; TLS 1.3 takes one
round trip either way, but a resumed handshake skips the certificate chain and its
verification. A server that does not resume (no ticket, an expired one, another
server behind the same address) makes an ordinary full handshake: nothing fails.
Connections through an HTTPS proxy tunnel (TLS in TLS) do not resume.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections import OrderedDict
from typing import Any

from mediastore_ingest.ingest.transports.base import load_ca_bundle

__all__ = ["ResumingContext", "resuming_context"]

# Sessions kept per context: one per server (name, address); an ingest client talks
# to one or two.
_MAX_SESSIONS = 64
# TLS 1.3 tickets come with the first response bytes; a server that has sent none by
# this many reads sends none.
_READS_FOR_A_TICKET = 8


class _ResumingSocket(ssl.SSLSocket):
    """An SSL socket that hands the server's session to its context once it has one
    worth offering again (after the first read: TLS 1.3 tickets come then)."""

    _resume_key: tuple[str | None, Any] | None = None
    _reads_left = _READS_FOR_A_TICKET

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        if nbytes is None:
            got = super().recv_into(buffer, flags=flags)
        else:
            got = super().recv_into(buffer, nbytes, flags)
        key = self._resume_key
        if key is not None:
            session = self.session
            self._reads_left -= 1
            if self._reads_left <= 0:
                self._resume_key = None  # a server that sends no ticket: stop asking
            if session is not None and (session.has_ticket or self.version() != "TLSv1.3"):
                self._resume_key = None
                context = self.context
                if isinstance(context, ResumingContext):
                    context.remember(key, session)
        return got


class ResumingContext(ssl.SSLContext):
    """A client `ssl.SSLContext` that resumes TLS sessions per server.

    `handshakes` counts the connections it wrapped and `resumed` those
    whose handshake resumed a session (``SSLSocket.session_reused``).
    """

    sslsocket_class = _ResumingSocket

    def __new__(
        cls, protocol: int = ssl.PROTOCOL_TLS_CLIENT, *args: Any, **kwargs: Any
    ) -> ResumingContext:
        context: ResumingContext = super().__new__(cls, protocol, *args, **kwargs)
        context._sessions = OrderedDict()
        context._session_lock = threading.Lock()
        context.handshakes = 0
        context.resumed = 0
        return context

    _sessions: OrderedDict[tuple[str | None, Any], ssl.SSLSession]
    _session_lock: threading.Lock
    handshakes: int
    resumed: int

    def remember(self, key: tuple[str | None, Any], session: ssl.SSLSession) -> None:
        """Keep ``session`` to offer on the next connection to ``key``."""
        with self._session_lock:
            self._sessions[key] = session
            self._sessions.move_to_end(key)
            while len(self._sessions) > _MAX_SESSIONS:
                self._sessions.popitem(last=False)

    def forget_sessions(self) -> None:
        """Drop every saved session (the next connections make full handshakes)."""
        with self._session_lock:
            self._sessions.clear()

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        """Wrap ``sock``, offering the session last saved for this server."""
        key: tuple[str | None, Any] | None = None
        if not server_side:
            try:
                peer = sock.getpeername()
            except OSError:
                peer = None
            name = (
                server_hostname.decode() if isinstance(server_hostname, bytes)
                else server_hostname
            )
            key = (name, peer)
            if session is None:
                with self._session_lock:
                    session = self._sessions.get(key)
        wrapped = super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )
        if isinstance(wrapped, _ResumingSocket) and key is not None:
            wrapped._resume_key = key
            with self._session_lock:
                self.handshakes += 1
                if do_handshake_on_connect and wrapped.session_reused:
                    self.resumed += 1
        return wrapped


def resuming_context(ca_bundle: str | None = None, *, verify: bool = True) -> ResumingContext:
    """A `ResumingContext` with the settings the transport would otherwise use.

    The base is `load_ca_bundle` of
    ``ca_bundle`` (system CAs plus that file) or, without one, urllib3's default
    context; its options (but session tickets allowed), verification flags and
    protocol range are copied and the same CAs loaded. ``verify=False``: no
    certificate or host name checks.
    """
    if verify and ca_bundle is not None:
        base = load_ca_bundle(ca_bundle)
    else:
        from urllib3.util.ssl_ import create_urllib3_context

        base = create_urllib3_context()
    context = ResumingContext(ssl.PROTOCOL_TLS_CLIENT)
    # urllib3 turns TLS 1.2 session tickets off (its reason: servers that never rotate
    # their ticket keys). Without tickets a TLS 1.2 session resumes only from the
    # server's own cache, which a connection closed without close_notify evicts:
    # every other reconnection would pay the full handshake. Tickets are what
    # browsers and CloudFront use; TLS 1.3 resumes with tickets only.
    context.options = base.options & ~ssl.OP_NO_TICKET
    context.minimum_version = base.minimum_version
    context.maximum_version = base.maximum_version
    context.verify_flags = base.verify_flags
    context.hostname_checks_common_name = base.hostname_checks_common_name
    if verify:
        context.load_default_certs()
        if ca_bundle is not None:
            context.load_verify_locations(cafile=ca_bundle)
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
