"""How a signing relay listens and what it does with each request: ``RelayConfig``.

Per-path rules (Content-Type, Cache-Control, streaming uploads), the peers and token
it admits, and the limits that bound its memory; all checked when the config is made.
"""

from __future__ import annotations

import contextlib
import fnmatch
import ipaddress
import os
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

import attrs

from mediastore_ingest._internal.show import shown, type_name
from mediastore_ingest._internal.validate import (
    check_str,
    instance_of,
    int_in,
    number,
    one_line,
    one_of,
    text,
)
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.ingest import guess_content_type
from mediastore_ingest.ingest.media import MANIFEST_EXTENSIONS
from mediastore_ingest.origins import validate_content_type, validate_path
from mediastore_ingest.relay.journal import FSYNC_MODES, FsyncMode
from mediastore_ingest.server.limits import ServerLimits

__all__ = ["DEFAULT_CACHE_RULES", "RelayConfig", "is_loopback_host"]

MiB = 1024 * 1024
GiB = 1024 * MiB

#: Default Cache-Control rules (first match wins): manifests are re-read every
#: target duration, segments never change once written.
DEFAULT_CACHE_RULES: tuple[tuple[str, str], ...] = (
    *((f"*{ext}", "max-age=1") for ext in sorted(MANIFEST_EXTENSIONS)),
    ("*", "max-age=31536000"),
)

_LOOPBACK = ("127.0.0.0/8", "::1/128")
_ONE_LINE = one_line(empty=False)
_MIN_TOKEN = 16


def _networks(value: object) -> tuple[str, ...]:
    # One address or network object is one item (iterating a network object would
    # walk every address in it: 16 million for a /8).
    if isinstance(value, (str, ipaddress.IPv4Network, ipaddress.IPv6Network,
                          ipaddress.IPv4Address, ipaddress.IPv6Address)):
        items: tuple[object, ...] = (value,)
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray)):
        items = tuple(value)
    else:
        raise InvalidInputError(
            f"allowed_peers must be addresses or CIDR ranges, not {type_name(value)}"
        )
    out = []
    for item in items:
        try:
            out.append(str(ipaddress.ip_network(str(item), strict=False)))
        except ValueError as exc:
            raise InvalidInputError(f"not an address or CIDR range: {shown(item)}") from exc
    return tuple(out)


def _rules(value: object) -> tuple[tuple[str, str], ...]:
    if isinstance(value, Mapping):
        value = tuple(value.items())
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Iterable):
        raise InvalidInputError(
            "rules are a sequence of (glob, value) pairs of strings (or a dict; () for "
            f"none), not {type_name(value)}"
        )
    out = []
    for item in value:
        pair = isinstance(item, tuple) and len(item) == 2
        if not (pair and all(isinstance(x, str) for x in item)):
            raise InvalidInputError(
                f"a rule is a (glob, value) pair of strings, not {shown(item)}"
            )
        glob, rule_value = item
        if not glob or not _ONE_LINE.test(rule_value):
            raise InvalidInputError(f"invalid rule {shown(item)}")
        out.append((glob, rule_value))
    return tuple(out)


def _journal_dir(value: object) -> str | None:
    if value is None:
        return None
    path = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(path, str) or not path or "\0" in path:
        raise InvalidInputError(
            f"journal_dir must be a directory path or None, not {shown(value)}"
        )
    return path


def _check_prefix(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    text(empty=True)(instance, attribute, value)
    if value.strip("/"):
        validate_path(value.strip("/"))


def _header_name(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value or not all(
        c.isalnum() or c in "-_" for c in value
    ):
        raise InvalidInputError(f"invalid header name {shown(value)}")


def _check_token(instance: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    # A secret: the message never shows it, whatever is wrong with it.
    if value is not None and (
        not isinstance(value, str) or len(value) < _MIN_TOKEN or not _ONE_LINE.test(value)
    ):
        raise InvalidInputError(
            f"token must be a one-line string of at least {_MIN_TOKEN} characters"
        )


def _check_host(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str):
        raise InvalidInputError(f"host must be a str (an IP address), not {shown(value)}")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if value != "localhost":
            raise InvalidInputError(f"host must be an IP address, not {shown(value)}") from None


def _is_loopback_network(network: str) -> bool:
    net = ipaddress.ip_network(network)
    return net.network_address.is_loopback and net.broadcast_address.is_loopback


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@attrs.frozen
class RelayConfig:
    """How a ``SigningRelay`` listens and what it does with each request.

    ``host``/``port``: where to listen (``port=0`` picks a free one). ``prefix`` is
    put before every request path (``live/channel1/``). ``content_types`` and
    ``cache_control`` are ``(glob, value)`` rules matched against the object path,
    first match wins; without a Content-Type rule the type is guessed from the
    extension, then taken from the encoder's header. ``streaming_segments`` uploads
    non-manifest objects with ``x-amz-upload-availability: STREAMING`` (readable
    while written; MediaStore limits such objects to 10 MB). ``allowed_peers`` are
    the client addresses admitted (loopback by default); allowing any other address
    requires ``token``, which every request must then carry in ``token_header``.
    ``max_segment_bytes`` caps one object (``413`` above it), ``max_in_flight`` the
    requests being received at once (``503`` above it).

    Every object goes through the journal in ``journal_dir`` (``None``: a private
    temporary directory made at start, removed at close when empty) before the encoder
    is answered ``200``; ``upload_workers`` threads then upload it (see
    ``mediastore_ingest.relay.journal`` and ``mediastore_ingest.relay.order``).
    The journal holds at most ``journal_max_bytes`` of bodies and
    ``journal_max_objects`` objects; past either the relay answers ``503`` with
    ``Retry-After: retry_after``. ``fsync`` is ``"none"`` (survives the relay dying,
    not the machine losing power), ``"data"`` or ``"data+dir"``. A failed upload is
    tried again after a pause doubling up to ``requeue_cap`` seconds, for as long as
    it takes (unless a newer version of its path supersedes it).
    ``shutdown_timeout`` is how long ``SigningRelay.close`` keeps reading the
    requests already on the wire and uploading (``float("inf")``: as long as it
    takes); what is left stays in the journal for the next start.
    """

    host: str = attrs.field(default="127.0.0.1", validator=_check_host)
    port: int = attrs.field(default=0, validator=int_in(0, 65535))
    prefix: str = attrs.field(default="", validator=_check_prefix)
    content_types: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_rules)
    cache_control: tuple[tuple[str, str], ...] = attrs.field(
        default=DEFAULT_CACHE_RULES, converter=_rules
    )
    streaming_segments: bool = True
    allow_delete: bool = False
    allowed_peers: tuple[str, ...] = attrs.field(default=_LOOPBACK, converter=_networks)
    token: str | None = attrs.field(default=None, repr=False, validator=_check_token)
    token_header: str = attrs.field(default="X-Relay-Token", validator=_header_name)
    max_segment_bytes: int = attrs.field(default=25 * MiB, validator=int_in(1))
    max_in_flight: int = attrs.field(default=64, validator=int_in(1))
    journal_dir: str | None = attrs.field(default=None, converter=_journal_dir)
    journal_max_bytes: int = attrs.field(default=GiB, validator=int_in(1))
    journal_max_objects: int = attrs.field(default=100_000, validator=int_in(1))
    fsync: FsyncMode = attrs.field(default="data", validator=one_of(*FSYNC_MODES))
    upload_workers: int = attrs.field(default=8, validator=int_in(1, 1024))
    retry_after: int = attrs.field(default=2, validator=int_in(0, 86400))
    requeue_cap: float = attrs.field(default=5.0, validator=number())
    shutdown_timeout: float = attrs.field(default=30.0, validator=number(infinite=True))
    #: The HTTP front end's limits (head size, deadlines, connection caps, backlog);
    #: peers outside ``allowed_peers`` are refused when accepted, before their head.
    limits: ServerLimits = attrs.field(factory=ServerLimits, validator=instance_of(ServerLimits))

    def __attrs_post_init__(self) -> None:
        remote = [n for n in self.allowed_peers if not _is_loopback_network(n)]
        if remote and self.token is None:
            raise InvalidInputError(
                f"allowing non-loopback peers ({', '.join(remote)}) requires a token"
            )
        if not is_loopback_host(self.host) and self.token is None:
            raise InvalidInputError(
                f"listening on {self.host}, beyond loopback, requires a token (and the "
                "peers to admit: allowed_peers / --allow-peer); or listen on 127.0.0.1"
            )
        if self.max_segment_bytes > self.journal_max_bytes:
            raise InvalidInputError(
                f"max_segment_bytes ({self.max_segment_bytes}) must fit in "
                f"journal_max_bytes ({self.journal_max_bytes})"
            )
        for _, value in self.content_types:
            validate_content_type(value)

    def object_path(self, request_path: str) -> str:
        """The object path for an encoder's request target (prefix added, query
        dropped, percent-escapes decoded); InvalidPathError if the origin would refuse it."""
        check_str("request_path", request_path, empty=True)
        path = unquote(urlsplit(request_path).path).lstrip("/")
        prefix = self.prefix.strip("/")
        return validate_path(f"{prefix}/{path}" if prefix else path)

    def content_type_for(self, path: str, sent: str | None = None) -> str:
        """The Content-Type to store ``path`` with (rule, extension, then ``sent``)."""
        check_str("path", path, empty=True)
        if sent is not None:
            check_str("sent", sent, empty=True)
        for glob, value in self.content_types:
            if fnmatch.fnmatchcase(path, glob):
                return value
        guessed = guess_content_type(path, default="")
        if guessed:
            return guessed
        if sent:
            candidate = sent.split(";", 1)[0].strip()
            with contextlib.suppress(ValueError):
                return validate_content_type(candidate)
        return "application/octet-stream"

    def cache_control_for(self, path: str) -> str | None:
        """The Cache-Control of ``path`` by the first matching rule (None: none)."""
        check_str("path", path, empty=True)
        for glob, value in self.cache_control:
            if fnmatch.fnmatchcase(path, glob):
                return value
        return None

    def availability_for(self, path: str) -> str | None:
        """``"streaming"`` for segments when ``streaming_segments``, else None."""
        check_str("path", path, empty=True)
        if not self.streaming_segments:
            return None
        name = path.rpartition("/")[2].lower()
        if any(name.endswith(ext) for ext in MANIFEST_EXTENSIONS):
            return None
        return "streaming"
