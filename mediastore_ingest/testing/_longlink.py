"""``LongLink``: a long-haul network path on loopback; ``Geography``: where things are.

A ``LongLink`` is a TCP proxy on ``127.0.0.1`` that forwards every byte to a
target after a one-way propagation delay (half the round-trip time it is given),
optionally plus random jitter and a bandwidth cap (serialisation delay: a piece of
``n`` bytes occupies the link for ``8 * n / bandwidth`` seconds, and pieces queue
behind each other). Each direction of each connection has a reader that stamps what
it reads with the time it is due at the far end and a writer that releases it then:
no sleep per byte, no busy loop, in-order delivery (jitter never reorders).

What it models, and what it does not:

* **propagation delay**, each way, per piece of data, so a request and its answer
  cost one round trip, and a fresh connection costs its handshakes;
* **the TCP handshake**: a userspace proxy cannot delay the ``SYN``/``SYN-ACK`` (the
  kernel answers them, so ``connect()`` returns at once on loopback); the link
  instead holds the first bytes a new connection sends for one extra round trip, so
  the first byte reaches the far end when it would have on a real path. A
  measurement of ``connect()`` time through the link therefore reads ~0;
* **serialisation** at a bandwidth cap;
* **not** packet loss, retransmission, congestion control or TCP slow start: a
  fresh connection here sends at full rate at once, where a real one needs several
  round trips to open its window (a 375 KB segment needs ~5 from a 10-segment
  initial window). The link is kind to new connections; real gains from warm,
  pooled connections are larger than it shows;
* not the receiver's window: the link buffers up to ``max_buffer`` bytes per
  direction (then stops reading, which is the only back-pressure it applies).

``LongLink.counters`` counts, besides bytes, the *flights* in each direction: a
flight is a burst of bytes sent after the other side spoke (or the first on a
connection). A request/response exchange is one flight up and one down, so the
round trips a client paid are the flights it sent plus one TCP handshake per
connection (``LinkCounters.round_trips``).

A ``Geography`` names the three paths of an ingest set-up (encoder → edge,
edge → origin, encoder → origin directly) with their round-trip times and
bandwidths; ``GEOGRAPHIES`` holds a few presets, and
``LocalStack(geography="sao-paulo-us-west-2")`` puts one long link on each path.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from types import MappingProxyType, TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs

from mediastore_ingest._internal.validate import (
    check,
    check_callable,
    check_int,
    check_number,
    check_port,
    check_str,
    instance_of,
    number,
    optional,
    text,
)
from mediastore_ingest.errors import InvalidInputError, LocalStackError

__all__ = ["GEOGRAPHIES", "Geography", "LinkCounters", "LongLink"]

logger = logging.getLogger(__name__)

_PIECE = 16 * 1024  # read size, and the granularity of serialisation
_ACCEPT_POLL = 0.2


@attrs.frozen
class LinkCounters:
    """What crossed a ``LongLink`` (since it started, or ``reset_counters``).

    ``connections`` opened through it; ``flights_up`` / ``flights_down``: bursts of
    bytes towards the target / back, each sent after the other side spoke (or first
    on its connection); ``bytes_up`` / ``bytes_down``.
    """

    connections: int = 0
    flights_up: int = 0
    flights_down: int = 0
    bytes_up: int = 0
    bytes_down: int = 0

    @property
    def round_trips(self) -> int:
        """Round trips paid by the side that connects: one TCP handshake per
        connection plus one per flight it sent (each waited for, or was, an answer)."""
        return self.connections + self.flights_up

    def __sub__(self, other: LinkCounters) -> LinkCounters:
        return LinkCounters(
            self.connections - other.connections,
            self.flights_up - other.flights_up,
            self.flights_down - other.flights_down,
            self.bytes_up - other.bytes_up,
            self.bytes_down - other.bytes_down,
        )


def _bandwidth(name: str, value: object) -> float | None:
    return check(name, value, optional(number()))  # type: ignore[return-value]


class LongLink:
    """A TCP proxy on loopback that behaves like a long network path.

    ``target``: ``(host, port)`` or a URL whose host and port are forwarded to.
    ``rtt``: the round-trip time in seconds (each direction is delayed by half).
    ``jitter``: up to this many seconds added to each piece's one-way delay, drawn
    from ``rng`` (a ``random.Random``; pass a seeded one for a repeatable run);
    delivery stays in order. ``bandwidth_up`` / ``bandwidth_down``: caps in bit/s
    towards the target / back (``None``: no cap). ``max_buffer``: bytes held per
    direction before the link stops reading. Listens on ``host``:``port``
    (``127.0.0.1`` and a free port by default)::

        with LongLink(("127.0.0.1", server_port), rtt=0.1) as link:
            urllib3.request("GET", link.url_for(server_url))  # ~1 round trip later
            link.counters().round_trips  # 2: the handshake and the request

    Use as a context manager, or ``start`` / ``stop``.
    """

    def __init__(
        self,
        target: tuple[str, int] | str,
        *,
        rtt: float,
        jitter: float = 0.0,
        bandwidth_up: float | None = None,
        bandwidth_down: float | None = None,
        rng: random.Random | None = None,
        max_buffer: int = 64 * 1024 * 1024,
        name: str = "link",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._target = _target(target)
        self.rtt = check_number("rtt", rtt, zero=True)
        self.jitter = check_number("jitter", jitter, zero=True)
        self.bandwidth_up = _bandwidth("bandwidth_up", bandwidth_up)
        self.bandwidth_down = _bandwidth("bandwidth_down", bandwidth_down)
        check("rng", rng, optional(instance_of(random.Random, "a random.Random")))
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - not crypto
        self.max_buffer = check_int("max_buffer", max_buffer, minimum=_PIECE)
        self.name = check_str("name", name)
        self._host = check_str("host", host)
        self._port_arg = check_port(port)
        check_callable("clock", clock)
        self._clock = clock
        self._lock = threading.Lock()
        self._counters = LinkCounters()
        self._connections: set[_Connection] = set()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._stopping = threading.Event()

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self.running else "stopped"
        return (
            f"LongLink(name={self.name!r}, {where} -> {self._target[0]}:{self._target[1]}, "
            f"rtt={self.rtt * 1000:g} ms)"
        )

    @property
    def one_way(self) -> float:
        """The one-way propagation delay in seconds (``rtt / 2``)."""
        return self.rtt / 2

    @property
    def target(self) -> tuple[str, int]:
        """The ``(host, port)`` the link forwards to."""
        return self._target

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> LongLink:
        """Listen and start forwarding; returns ``self``."""
        if self._listener is not None:
            raise LocalStackError(f"LongLink {self.name} is already running")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self._host, self._port_arg))
            listener.listen(128)
            listener.settimeout(_ACCEPT_POLL)
        except BaseException:
            listener.close()
            raise
        self._stopping.clear()
        self._listener = listener
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"LongLink-{self.name}", daemon=True
        )
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every connection through the link."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        self._stopping.set()
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None:
            acceptor.join(timeout=5)
        listener.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.abort()

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._listener is not None

    def __enter__(self) -> LongLink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """The address the link listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The port the link listens on (while running)."""
        listener = self._listener
        if listener is None:
            raise LocalStackError(f"LongLink {self.name} is not running")
        port: int = listener.getsockname()[1]
        return port

    @property
    def netloc(self) -> str:
        """``host:port`` of the link."""
        return f"{self.host}:{self.port}"

    def url_for(self, url: str) -> str:
        """``url`` with its host and port replaced by the link's (scheme and path kept)."""
        split = urlsplit(check_str("url", url))
        if split.scheme not in ("http", "https"):
            raise InvalidInputError(f"url must be an http(s) URL, not {url!r}")
        return urlunsplit(split._replace(netloc=self.netloc))

    # --- counters ----------------------------------------------------------------------

    def counters(self) -> LinkCounters:
        """A snapshot of what crossed the link (subtract two to measure a span)."""
        with self._lock:
            return self._counters

    def reset_counters(self) -> None:
        """Start counting from zero (connections already open keep their state)."""
        with self._lock:
            self._counters = LinkCounters()

    def _spoke(self, connection: _Connection, up: bool, size: int) -> None:
        with self._lock:
            counters = self._counters
            new_flight = connection.last_speaker is not up
            connection.last_speaker = up
            if up:
                self._counters = attrs.evolve(
                    counters,
                    flights_up=counters.flights_up + new_flight,
                    bytes_up=counters.bytes_up + size,
                )
            else:
                self._counters = attrs.evolve(
                    counters,
                    flights_down=counters.flights_down + new_flight,
                    bytes_down=counters.bytes_down + size,
                )

    # --- forwarding --------------------------------------------------------------------

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                logger.debug("LongLink %s: accept failed", self.name, exc_info=True)
                continue
            accepted = self._clock()
            try:
                upstream = socket.create_connection(self._target, timeout=10)
            except OSError as exc:
                logger.debug("LongLink %s: cannot reach %s: %r", self.name, self._target, exc)
                client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(self, client, upstream, accepted)
            with self._lock:
                self._connections.add(connection)
                self._counters = attrs.evolve(
                    self._counters, connections=self._counters.connections + 1
                )
            connection.start()

    def _forget(self, connection: _Connection) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _delay(self) -> float:
        if not self.jitter:
            return self.one_way
        with self._lock:
            return self.one_way + self._rng.uniform(0.0, self.jitter)


class _Connection:
    """Both directions of one proxied connection."""

    def __init__(
        self, link: LongLink, client: socket.socket, upstream: socket.socket, accepted: float
    ) -> None:
        self.link = link
        self.client = client
        self.upstream = upstream
        self.last_speaker: bool | None = None
        self._closed = False
        self._done = 0
        self._lock = threading.Lock()
        # The first bytes up wait one round trip more: the handshake a real path
        # would have made before connect() returned.
        self.directions = (
            _Direction(self, client, upstream, up=True, free_at=accepted + link.rtt),
            _Direction(self, upstream, client, up=False, free_at=accepted),
        )

    def start(self) -> None:
        for direction in self.directions:
            direction.start()

    def finished_one(self) -> None:
        """A direction delivered its end of stream; the second one closes both sockets."""
        with self._lock:
            self._done += 1
            last = self._done == 2
        if last:
            self.close()

    def abort(self) -> None:
        """Cut both sides now (an error on one side, or the link stopping)."""
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for direction in self.directions:
            direction.wake()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.close()
        self.link._forget(self)

    @property
    def closed(self) -> bool:
        return self._closed


class _Direction:
    """One direction: a reader stamping pieces with their due time, a writer releasing them."""

    def __init__(
        self,
        connection: _Connection,
        source: socket.socket,
        sink: socket.socket,
        *,
        up: bool,
        free_at: float,
    ) -> None:
        self.connection = connection
        self.source = source
        self.sink = sink
        self.up = up
        link = connection.link
        self.bandwidth = link.bandwidth_up if up else link.bandwidth_down
        self._free_at = free_at  # when the link can start serialising the next piece
        self._last_due = free_at
        self._queue: deque[tuple[float, bytes | None]] = deque()
        self._queued = 0
        self._cond = threading.Condition()

    def start(self) -> None:
        name = f"LongLink-{self.connection.link.name}-{'up' if self.up else 'down'}"
        for target in (self._read_loop, self._write_loop):
            threading.Thread(target=target, name=name, daemon=True).start()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _due(self, now: float, size: int) -> float:
        link = self.connection.link
        start = max(now, self._free_at)
        if self.bandwidth is not None and size:
            start += 8 * size / self.bandwidth
        self._free_at = start
        due = max(start + link._delay(), self._last_due)
        self._last_due = due
        return due

    def _read_loop(self) -> None:
        connection = self.connection
        link = connection.link
        limit = link.max_buffer
        while True:
            with self._cond:
                while self._queued >= limit and not connection.closed:
                    self._cond.wait()
            if connection.closed:
                return
            try:
                data = self.source.recv(_PIECE)
            except OSError:
                connection.abort()
                return
            now = link._clock()
            if data:
                link._spoke(connection, self.up, len(data))
            with self._cond:
                self._queue.append((self._due(now, len(data)), data or None))
                self._queued += len(data)
                self._cond.notify_all()
            if not data:
                return

    def _write_loop(self) -> None:
        connection = self.connection
        clock = connection.link._clock
        while True:
            with self._cond:
                while not connection.closed:
                    if self._queue:
                        wait = self._queue[0][0] - clock()
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                if connection.closed:
                    return
                now = clock()
                pieces: list[bytes] = []
                end = False
                while self._queue and self._queue[0][0] <= now:
                    _, data = self._queue.popleft()
                    if data is None:
                        end = True
                        break
                    pieces.append(data)
                    self._queued -= len(data)
                self._cond.notify_all()
            try:
                if pieces:
                    self.sink.sendall(b"".join(pieces))
                if end:
                    self.sink.shutdown(socket.SHUT_WR)
            except OSError:
                connection.abort()
                return
            if end:
                connection.finished_one()
                return


def _target(value: object) -> tuple[str, int]:
    if isinstance(value, str):
        split = urlsplit(value)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise InvalidInputError(f"target must be (host, port) or an http(s) URL, not {value!r}")
        port = split.port or (443 if split.scheme == "https" else 80)
        return split.hostname, port
    if (
        isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)
        and isinstance(value[1], int)
    ):
        return value[0], check_port(value[1])
    raise InvalidInputError(
        f"target must be (host, port) or an http(s) URL, not {type(value).__name__}"
    )


# --- geography ---------------------------------------------------------------------------


def _name(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    text()(instance, attribute, value)


def _any_text(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    text(empty=True)(instance, attribute, value)


def _rate(instance: object, attribute: attrs.Attribute[float | None], value: object) -> None:
    optional(number())(instance, attribute, value)


def _seconds(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    number(zero=True)(instance, attribute, value)
    if isinstance(value, (int, float)) and value > 10:
        raise InvalidInputError(f"{attribute.name} is in seconds: {value!r} is more than 10 s")


@attrs.frozen
class Geography:
    """Where the encoder, the CloudFront edge and the origin are, as round-trip times.

    ``encoder_edge_rtt``, ``edge_origin_rtt`` and ``encoder_origin_rtt`` are
    round-trip times in seconds of the three paths; ``encoder_bandwidth`` caps the
    encoder's uplink (bit/s, on both of its paths) and ``edge_origin_bandwidth`` the
    edge's connection to the origin (``None``: no cap). ``jitter`` (seconds, up to
    that much added to a piece's one-way delay) applies to the two long-haul paths,
    drawn from RNGs seeded with ``seed``. See ``GEOGRAPHIES`` for presets and
    where their figures come from.
    """

    name: str = attrs.field(validator=_name)
    encoder_edge_rtt: float = attrs.field(validator=_seconds)
    edge_origin_rtt: float = attrs.field(validator=_seconds)
    encoder_origin_rtt: float = attrs.field(validator=_seconds)
    encoder_bandwidth: float | None = attrs.field(default=None, validator=_rate)
    edge_origin_bandwidth: float | None = attrs.field(default=None, validator=_rate)
    jitter: float = attrs.field(default=0.0, validator=_seconds)
    seed: int = attrs.field(default=0, validator=instance_of(int))
    description: str = attrs.field(default="", validator=_any_text, eq=False)

    @classmethod
    def named(cls, name: str | Geography) -> Geography:
        """The preset called ``name`` (see ``GEOGRAPHIES``), or ``name`` itself."""
        if isinstance(name, Geography):
            return name
        try:
            return GEOGRAPHIES[check_str("geography", name)]
        except KeyError:
            raise InvalidInputError(
                f"unknown geography {name!r}; known: {', '.join(sorted(GEOGRAPHIES))}"
            ) from None

    @property
    def edge_path_rtt(self) -> float:
        """Round trip encoder → edge → origin and back, on warm connections."""
        return self.encoder_edge_rtt + self.edge_origin_rtt

    def serialisation(self, size: int) -> float:
        """Seconds the encoder's uplink needs to send ``size`` bytes."""
        if self.encoder_bandwidth is None:
            return 0.0
        return 8 * size / self.encoder_bandwidth

    def floor(self, size: int = 0) -> float:
        """The least time an upload of ``size`` bytes can take to be acknowledged by the
        origin: one round trip of the shorter path plus the uplink's serialisation
        time. No client beats it; a warm connection through the edge comes close."""
        return min(self.encoder_origin_rtt, self.edge_path_rtt) + self.serialisation(size)

    def links(self) -> dict[str, dict[str, Any]]:
        """The ``LongLink`` arguments of each path: ``encoder_edge``,
        ``edge_origin`` and ``encoder_origin``."""
        return {
            "encoder_edge": {"rtt": self.encoder_edge_rtt, "bandwidth_up": self.encoder_bandwidth},
            "edge_origin": {
                "rtt": self.edge_origin_rtt,
                "bandwidth_up": self.edge_origin_bandwidth,
                "bandwidth_down": self.edge_origin_bandwidth,
                "jitter": self.jitter,
                "rng": random.Random(f"{self.seed}:edge_origin"),  # noqa: S311
            },
            "encoder_origin": {
                "rtt": self.encoder_origin_rtt,
                "bandwidth_up": self.encoder_bandwidth,
                "jitter": self.jitter,
                "rng": random.Random(f"{self.seed}:encoder_origin"),  # noqa: S311
            },
        }


_MBIT = 1_000_000

#: Presets, by name. The figures are round numbers from public measurements:
#:
#: * ``sao-paulo-us-west-2``: an encoder in São Paulo, the origin in Oregon. The great
#:   circle is ~10,900 km, so light in fibre (~200,000 km/s) needs >= 109 ms for the
#:   round trip; measured routes are longer: cloudping.co's inter-region table gives
#:   sa-east-1 <-> us-west-2 around 170-180 ms, and the "AWS Latency Index"
#:   (bytecode.tech, 2019: a new HTTPS call, two round trips, between those regions)
#:   ~366 ms. The long haul is 170 ms on either path (the edge does not shorten the
#:   distance; it ends handshakes near the encoder and keeps warm connections across);
#:   the encoder is 10 ms from the São Paulo POP (metro access), so 180 ms direct.
#:   Uplink 100 Mbit/s (a business fibre line).
#: * ``frankfurt-us-east-1``: cloudping.co's eu-central-1 <-> us-east-1, ~90 ms; 5 ms to
#:   the Frankfurt POP.
#: * ``sydney-us-west-2``: ap-southeast-2 <-> us-west-2, ~140 ms; 5 ms to the POP.
#: * ``same-region``: an encoder already in the origin's region (on EC2 in us-west-2):
#:   2 ms direct, but 4 ms to the nearest POP and 6 ms from there back. Acceleration
#:   only adds a hop here.
GEOGRAPHIES: Mapping[str, Geography] = MappingProxyType({
    geography.name: geography
    for geography in (
        Geography(
            "sao-paulo-us-west-2", 0.010, 0.170, 0.180, encoder_bandwidth=100 * _MBIT,
            description="encoder in São Paulo, origin in us-west-2 (Oregon)",
        ),
        Geography(
            "frankfurt-us-east-1", 0.005, 0.090, 0.095, encoder_bandwidth=100 * _MBIT,
            description="encoder in Frankfurt, origin in us-east-1 (N. Virginia)",
        ),
        Geography(
            "sydney-us-west-2", 0.005, 0.140, 0.145, encoder_bandwidth=100 * _MBIT,
            description="encoder in Sydney, origin in us-west-2 (Oregon)",
        ),
        Geography(
            "same-region", 0.004, 0.006, 0.002, encoder_bandwidth=1000 * _MBIT,
            description="encoder in the origin's region: the edge only adds a hop",
        ),
    )
})


def start_links(
    geography: Geography, *, edge_url: str, origin_url: str, started: list[Any]
) -> dict[str, LongLink]:
    """Start the encoder → edge and encoder → origin links of ``geography`` (the
    edge → origin one is started by ``start_origin_link`` before the edge), add
    them to ``started`` and return them by path name."""
    arguments = geography.links()
    links: dict[str, LongLink] = {}
    for name, url in (("encoder_edge", edge_url), ("encoder_origin", origin_url)):
        link = LongLink(url, name=name, **arguments[name]).start()
        started.append(link)
        links[name] = link
    return links


def start_origin_link(geography: Geography, origin_url: str, started: list[Any]) -> LongLink:
    """Start the edge → origin link of ``geography`` and add it to ``started``."""
    link = LongLink(origin_url, name="edge_origin", **geography.links()["edge_origin"]).start()
    started.append(link)
    return link
