"""The limits of the server core, and which peers it admits.

``ServerLimits`` holds what a production front end bounds (the names and
defaults follow nginx, Apache's ``mod_reqtimeout`` and hypercorn where they fit an
encoder pushing on loopback): the size of a request head, how long a head may take,
how slowly a body may arrive, how long a keep-alive connection may idle, how many
connections are served at once (in all, and from one address), and the listen
backlog. ``PeerFilter`` is the allow-list a connection is checked against the
moment it is accepted, before a byte of it is read.

Each limit is a keyword argument of ``LocalHTTPServer``
(and so of the relay's listener); the local test servers take a whole
``ServerLimits`` as ``limits=``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TypeAlias

import attrs

from mediastore_ingest._internal.show import shown, type_name
from mediastore_ingest._internal.validate import int_in, number
from mediastore_ingest.errors import InvalidInputError

__all__ = ["Network", "PeerFilter", "ServerLimits"]

KiB = 1024

Network: TypeAlias = "ipaddress.IPv4Network | ipaddress.IPv6Network"


@attrs.frozen
class ServerLimits:
    """What one server bounds, with defaults for encoders (ffmpeg, OBS) on loopback.

    - ``max_head_bytes`` (32 KiB): the request line and header fields together (and a
      chunked body's trailer section); a longer head gets ``431``. Signed URLs and
      cookies with a custom policy take a few KiB; nginx allows 4 x 8 KiB, hypercorn
      and Node 16 KiB.
    - ``header_timeout`` (10 s): the whole head must arrive within this many seconds
      of its first byte (of the accept, TLS handshake included, for a connection's
      first request), else ``408`` and the connection closes: one byte a second
      (slowloris) holds a connection this long at most. An encoder sends its head in
      one write.
    - ``idle_timeout`` (30 s): how long a keep-alive connection may wait for its next
      request; then it is closed without an answer. ffmpeg's ``-http_persistent 1``
      sends a segment every few seconds.
    - ``body_grace`` (20 s) and ``body_min_rate`` (500 bytes/s): a body must have
      arrived at ``body_min_rate`` bytes a second after the first ``body_grace``
      seconds: the body read fails once it is later than ``grace + received / rate``
      seconds since it began (Apache ``mod_reqtimeout``'s ``body=20,MinRate=500``).
      A live segment streamed as it is encoded (even 32 kbit/s audio, in 32 KiB
      writes) stays far ahead; a body dripped at 0.1 byte/s is cut after 20 s.
      ``body_min_rate=0`` leaves only ``io_timeout``.
    - ``io_timeout`` (30 s): the longest wait for any one read of a body or write of
      a response.
    - ``max_connections`` (1024) and ``max_connections_per_peer`` (512): connections
      served at once, in all and from one address. Each has a thread (an idle one
      costs some tens of KiB); one over either cap is closed the moment it is
      accepted, without a thread or a read. On loopback every peer is one address, so
      the per-peer cap leaves room for a legitimate encoder beside hundreds of
      hostile loopback connections until the deadlines above cut those; beyond
      loopback it bounds what one remote host can take.
    - ``backlog`` (511, nginx's): connections the kernel queues until accepted.
    """

    max_head_bytes: int = attrs.field(default=32 * KiB, validator=int_in(256, 16 * 1024 * KiB))
    header_timeout: float = attrs.field(default=10.0, validator=number())
    idle_timeout: float = attrs.field(default=30.0, validator=number())
    body_grace: float = attrs.field(default=20.0, validator=number(zero=True))
    body_min_rate: float = attrs.field(default=500.0, validator=number(zero=True))
    io_timeout: float = attrs.field(default=30.0, validator=number())
    max_connections: int = attrs.field(default=1024, validator=int_in(1))
    max_connections_per_peer: int = attrs.field(default=512, validator=int_in(1))
    backlog: int = attrs.field(default=511, validator=int_in(1, 65535))


def _network(item: object) -> Network:
    if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return item
    if isinstance(item, (str, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        try:
            return ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            pass
    raise InvalidInputError(f"allowed_peers must hold addresses or CIDR ranges, not {shown(item)}")


@attrs.frozen
class PeerFilter:
    """The peer addresses a server admits: ``networks``, or everyone when ``None``.

    An IPv4 peer seen as an IPv4-mapped IPv6 address (on a dual-stack socket) is
    checked as the IPv4 address it is.
    """

    networks: tuple[Network, ...] | None

    @classmethod
    def of(cls, allowed: Iterable[str | Network] | str | Network | None) -> PeerFilter:
        """A filter from addresses or CIDR ranges (``"127.0.0.0/8"``), one or many."""
        if allowed is None:
            return cls(None)
        if isinstance(allowed, (str, ipaddress.IPv4Network, ipaddress.IPv6Network)):
            allowed = (allowed,)  # one range is one item (iterating it walks its addresses)
        items: object = allowed
        if not isinstance(items, Iterable) or isinstance(items, (bytes, bytearray)):
            raise InvalidInputError(
                f"allowed_peers must be addresses or CIDR ranges, not {type_name(items)}"
            )
        return cls(tuple(_network(item) for item in items))

    def admits(self, address: str) -> bool:
        """True when the peer at ``address`` may connect."""
        if self.networks is None:
            return True
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)
