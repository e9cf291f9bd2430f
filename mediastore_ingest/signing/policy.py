"""CloudFront canned and custom policies: pure values, no clock, no I/O.

A policy says which URL(s) a signature covers and when (and from where) it may be
used. :meth:`CannedPolicy.to_json` and :meth:`CustomPolicy.to_json` return the exact
bytes CloudFront checks: CloudFront *rebuilds* a canned policy from the request it
receives, so the resource must be the URL exactly as it will be sent. Both classes
therefore normalise URLs the one way :func:`normalize_url` does, and the signer
sends the normalised form.

Times are aware :class:`datetime.datetime` values or integer epoch seconds; naive
datetimes and millisecond epochs are refused rather than guessed at.
"""

from __future__ import annotations

import datetime as _dt
import functools
import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import attrs

from mediastore_ingest._internal.jsonutil import compact_json, strict_loads
from mediastore_ingest._internal.show import type_name
from mediastore_ingest.errors import InvalidInputError, PolicyError, PolicyParseError

__all__ = [
    "MAX_EPOCH",
    "RESERVED_QUERY_PARAMS",
    "CannedPolicy",
    "CustomPolicy",
    "Policy",
    "TimeLike",
    "normalize_url",
    "to_epoch",
    "wildcard_match",
]

#: The largest epoch CloudFront accepts (2038-01-19T03:14:07Z).
MAX_EPOCH = 2_147_483_647
#: Query parameter names CloudFront reserves for itself (and strips before forwarding).
RESERVED_QUERY_PARAMS = frozenset(
    {"Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm"}
)

TimeLike = _dt.datetime | int

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_ONE_SECOND = _dt.timedelta(seconds=1)
# Anything above this is far more likely a millisecond timestamp than a year-5138 date.
_MILLIS_THRESHOLD = 100_000_000_000

# Characters left as they are; everything else (space, non-ASCII, controls, and the
# few ASCII characters never valid unescaped in a URL) is percent-encoded as UTF-8.
_URL_SAFE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    "-._~:/?@!$&'()*+,;=%"
)
_ALREADY_SAFE = re.compile(r"[A-Za-z0-9\-._~:/?@!$&'()*+,;=]*\Z")
_HOST = re.compile(r"[a-z0-9.\-]+(?::[0-9]{1,5})?\Z|\[[0-9a-f:.]+\](?::[0-9]{1,5})?\Z")
_WILD_HOST = re.compile(r"[a-z0-9.\-*?]+(?::[0-9*?]{1,5})?\Z|\[[0-9a-f:.]+\](?::[0-9]{1,5})?\Z")
_PCT_TRIPLET = re.compile(r"%[0-9A-Fa-f]{2}")
# The shape nearly every request URL has, already in normalize_url's form: lower-case
# http(s) scheme and host, no port, a path with nothing to encode, no query.
_NORMAL_SHAPE = re.compile(r"https?://[a-z0-9.\-]+/[A-Za-z0-9\-._~:/@!$&'()*+,;=]*\Z").match


def to_epoch(value: object, *, name: str = "time") -> int:
    """Convert an aware datetime or integer epoch seconds to epoch seconds.

    Refuses naive datetimes, floats, booleans, negative values, values that look like
    milliseconds and anything after 2038-01-19T03:14:07Z, each with a
    :class:`~mediastore_ingest.errors.PolicyError` naming ``name``.
    """
    if type(value) is int and 0 <= value <= MAX_EPOCH:  # the common case, first
        return value
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise PolicyError(
                f"{name} is a naive datetime; pass an aware one "
                "(e.g. datetime.now(timezone.utc)) so the instant is unambiguous"
            )
        # Exact integer arithmetic; a fractional second is dropped, so a signature
        # never outlives the instant the caller asked for.
        epoch = (value - _EPOCH) // _ONE_SECOND
    elif isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(
            f"{name} must be an aware datetime or int epoch seconds, "
            f"not {type_name(value)}"
        )
    else:
        epoch = value
    if epoch < 0:
        raise PolicyError(f"{name} must not be before 1970-01-01 (got {epoch})")
    if epoch > MAX_EPOCH:
        if epoch >= _MILLIS_THRESHOLD:
            raise PolicyError(
                f"{name}={epoch} looks like milliseconds; CloudFront wants epoch seconds"
            )
        raise PolicyError(f"{name}={epoch} is after {MAX_EPOCH}, the latest CloudFront accepts")
    return epoch


def clock_epoch(clock: Callable[[], float]) -> int:
    """``int(clock())``: the epoch seconds a clock gives (``time.time`` by default in
    the signer and the verifier), or an
    :class:`~mediastore_ingest.errors.InvalidInputError` when it gives no usable time."""
    value = clock()
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInputError(
            f"clock returned {type_name(value)} {value!r:.40}, not epoch seconds"
        ) from exc


def _quote_char(ch: str) -> str:
    try:
        encoded = ch.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate
        raise PolicyError(f"URL contains {ch!r}, which has no UTF-8 form") from exc
    return "".join(f"%{b:02X}" for b in encoded)


def _encode_part(text: str) -> str:
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "%":
            if _PCT_TRIPLET.match(text, i):
                out.append(text[i : i + 3].upper())  # clients send %2F, not %2f
                i += 3
                continue
            out.append("%25")
        elif ch in _URL_SAFE:
            out.append(ch)
        else:
            out.append(_quote_char(ch))
        i += 1
    return "".join(out)


def normalize_url(url: str, *, allow_wildcards: bool = False) -> str:
    """Return ``url`` in the one form that is both signed and sent.

    It is the form HTTP clients (urllib3, curl, browsers) put on the wire unchanged:
    spaces, non-ASCII characters, ``[``/``]`` and characters never valid in a URL are
    percent-encoded (UTF-8) exactly once, existing ``%XX`` escapes are kept but
    upper-cased, a lone ``%`` becomes ``%25``; ``.``/``..`` path segments are resolved
    (RFC 3986); a default port (``:443`` for https, ``:80`` for http) is dropped; the
    host is IDNA-encoded and lower-cased. Refused with
    :class:`~mediastore_ingest.errors.PolicyError`: schemes other than http/https, a
    ``#fragment``, a missing host, a port outside 1-65535, and CloudFront's reserved
    query parameters.

    With ``allow_wildcards`` (custom-policy resources), ``*`` may stand anywhere,
    including in the scheme (``http*://``) or as the whole resource; dot segments are
    refused there rather than resolved, since resolving would change what the
    wildcard covers.
    """
    if not isinstance(url, str):
        raise PolicyError(f"URL must be a str, not {type_name(url)}")
    if not allow_wildcards and already_normal(url):
        return url
    return _normalize_url(url, bool(allow_wildcards))


def already_normal(url: str) -> bool:
    """True when ``normalize_url(url)`` is ``url`` and a regex can tell.

    A live stream's URLs are new every few seconds, so the cache behind
    normalize_url rarely holds them; this check costs a tenth of a full pass.
    ``tests/unit/signing/test_policy.py`` holds it to the full normaliser's answers.
    """
    return _NORMAL_SHAPE(url) is not None and "/." not in url  # "/.": a dot segment, maybe


@functools.lru_cache(maxsize=4096)
def _normalize_url(url: str, allow_wildcards: bool) -> str:
    if not url:
        raise PolicyError("URL must not be empty")
    if "#" in url:
        raise PolicyError(
            f"URL {url!r} has a #fragment; browsers never send it, so CloudFront "
            "would never see the signed form"
        )
    if allow_wildcards and url.startswith("*"):
        return _encode_part(url) if not _ALREADY_SAFE.match(url) else url
    scheme, sep, rest = url.partition("://")
    allowed_schemes = ("http", "https", "http*") if allow_wildcards else ("http", "https")
    if not sep or scheme.lower() not in allowed_schemes:
        raise PolicyError(f"URL {url!r} must start with http:// or https://")
    scheme = scheme.lower()
    slash = rest.find("/")
    # In a wildcard resource '?' matches one character and may stand in the host.
    qmark = -1 if allow_wildcards else rest.find("?")
    cut = min(p for p in (slash, qmark, len(rest)) if p >= 0)
    host, tail = rest[:cut], rest[cut:]
    if not host:
        raise PolicyError(f"URL {url!r} has no host")
    try:
        host = host.encode("idna").decode("ascii").lower() if not host.isascii() else host.lower()
    except UnicodeError as exc:
        raise PolicyError(f"URL {url!r} has a host that cannot be IDNA-encoded") from exc
    if not (_WILD_HOST if allow_wildcards else _HOST).match(host):
        raise PolicyError(f"URL {url!r} has an invalid host")
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and "]" not in port:
        if not 1 <= int(port) <= 65535:
            raise PolicyError(f"URL {url!r} has a port outside 1-65535")
        if (scheme, port) in (("https", "443"), ("http", "80")):
            host = name  # clients leave the default port out of Host
    # A client sends "/" for an empty path, and CloudFront rebuilds the URL from it.
    if not tail and not allow_wildcards:
        tail = "/"
    elif tail.startswith("?"):
        tail = "/" + tail
    if not _ALREADY_SAFE.match(tail):
        tail = _encode_part(tail)
    path, q, query = tail.partition("?")
    if "/." in path:
        segments = path.split("/")
        if "." in segments or ".." in segments:
            if allow_wildcards:
                raise PolicyError(
                    f"resource {url!r} has a dot segment ('.' or '..'); write the path "
                    "clients will send"
                )
            path = _remove_dot_segments(path)
            tail = path + q + query
    if q and query:
        names = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
        clash = sorted(names & RESERVED_QUERY_PARAMS)
        if clash:
            raise PolicyError(
                f"URL {url!r} uses query parameter(s) {', '.join(clash)} that CloudFront "
                "reserves for signing; rename them"
            )
    return f"{scheme}://{host}{tail}"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, for an absolute path."""
    out: list[str] = []
    segments = path.split("/")[1:]
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        elif segment == ".":
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


def wildcard_match(pattern: str, text: str, *, case_sensitive: bool = True) -> bool:
    """CloudFront/IAM wildcard matching: ``*`` is zero or more characters, ``?``
    exactly one, everything else literal; the whole of ``text`` must match.

    Runs in O(len(pattern) * len(text)) at worst (no regex backtracking), so a
    hostile pattern or a long header cannot stall a server.
    """
    if not isinstance(pattern, str) or not isinstance(text, str):
        raise InvalidInputError(
            f"wildcard_match wants two str, not {type_name(pattern)} "
            f"and {type_name(text)}"
        )
    if not case_sensitive:
        pattern, text = pattern.lower(), text.lower()
    if "*" not in pattern and "?" not in pattern:
        return pattern == text
    if "?" not in pattern and pattern.count("*") == 1 and pattern.endswith("*"):
        return text.startswith(pattern[:-1])
    p = t = 0
    star = -1
    resume = 0
    np, nt = len(pattern), len(text)
    while t < nt:
        if p < np and (pattern[p] == "?" or pattern[p] == text[t]):
            p += 1
            t += 1
        elif p < np and pattern[p] == "*":
            star, resume = p, t
            p += 1
        elif star >= 0:
            p = star + 1
            resume += 1
            t = resume
        else:
            return False
    while p < np and pattern[p] == "*":
        p += 1
    return p == np


def _ip_in(client_ip: str | None, network: str | None) -> bool:
    if network is None:
        return True
    if client_ip is None:
        return False
    if not isinstance(client_ip, str):
        raise InvalidInputError(f"client_ip must be a str, not {type_name(client_ip)}")
    try:
        addr = ipaddress.ip_address(client_ip)
    except ValueError as exc:
        raise InvalidInputError(f"client_ip {client_ip!r} is not an IP address") from exc
    net = ipaddress.ip_network(network)
    return addr.version == net.version and addr in net


def _normalize_source_ip(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PolicyError(f"source_ip must be a str, not {type_name(value)}")
    try:
        net = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as exc:
        raise PolicyError(
            f"source_ip {value!r} is not an IPv4 address or CIDR with no host bits set "
            f"({exc})"
        ) from exc
    if net.version != 4:
        raise PolicyError(
            f"source_ip {value!r} is IPv6; CloudFront policies accept IPv4 ranges only. "
            "Disable IPv6 on the distribution or drop the IP condition"
        )
    return f"{net.network_address}/{net.prefixlen}"


def _expires_epoch(value: object) -> int:
    return to_epoch(value, name="expires")


def _optional_epoch(value: object) -> int | None:
    return None if value is None else to_epoch(value, name="not_before")


def _canned_resource(value: object) -> str:
    if not isinstance(value, str):
        raise PolicyError(f"resource must be a str, not {type_name(value)}")
    if "*" in value:
        raise PolicyError(
            f"resource {value!r} contains '*': a canned policy covers one exact URL; "
            "use CustomPolicy for wildcards"
        )
    return normalize_url(value)


def _custom_resource(value: object) -> str:
    if not isinstance(value, str):
        raise PolicyError(f"resource must be a str, not {type_name(value)}")
    return normalize_url(value, allow_wildcards=True)


# The canned policy text around its two values: HEAD resource MIDDLE expires TAIL.
_CANNED_HEAD = '{"Statement":[{"Resource":"'
_CANNED_MIDDLE = '","Condition":{"DateLessThan":{"AWS:EpochTime":'
_CANNED_TAIL = "}}}]}"


@attrs.frozen
class CannedPolicy:
    """A canned policy: one exact URL, an expiry, nothing else.

    ``resource`` is normalised with :func:`normalize_url`; a resource with ``*`` is
    refused (a wildcard would silently become a literal ``*`` in a canned policy).
    """

    resource: str = attrs.field(converter=_canned_resource)
    expires: int = attrs.field(converter=_expires_epoch)

    def to_json(self) -> str:
        """The exact policy text CloudFront rebuilds from the request."""
        # normalize_url leaves only characters JSON needs no escape for, so the
        # resource goes in as it is (the same bytes CloudFront rebuilds).
        return f"{_CANNED_HEAD}{self.resource}{_CANNED_MIDDLE}{self.expires}{_CANNED_TAIL}"

    def matches(self, url: str) -> bool:
        """True when ``url`` (normalised) is exactly the resource."""
        return normalize_url(url) == self.resource

    def is_valid_at(self, now: TimeLike, client_ip: str | None = None) -> bool:
        """True when ``now`` is before the expiry (``client_ip`` is not restricted)."""
        return to_epoch(now, name="now") < self.expires


def _check_custom(instance: CustomPolicy, attribute: object, value: int | None) -> None:
    if instance.not_before is not None and instance.expires <= instance.not_before:
        raise PolicyError(
            f"expires ({instance.expires}) must be after not_before ({instance.not_before})"
        )


@attrs.frozen
class CustomPolicy:
    """A custom policy: a resource that may use ``*`` and ``?``, an expiry, and
    optionally a start time (``not_before``) and an IPv4 range (``source_ip``).

    ``source_ip`` is normalised to CIDR form (``192.0.2.7`` → ``192.0.2.7/32``);
    IPv6 and CIDRs with host bits set are refused.
    """

    resource: str = attrs.field(converter=_custom_resource)
    expires: int = attrs.field(converter=_expires_epoch)
    not_before: int | None = attrs.field(
        default=None, converter=_optional_epoch, validator=_check_custom
    )
    source_ip: str | None = attrs.field(default=None, converter=_normalize_source_ip)

    def to_json(self) -> str:
        """Compact JSON, key order as the CloudFront docs and botocore write it."""
        condition: dict[str, Any] = {"DateLessThan": {"AWS:EpochTime": self.expires}}
        if self.source_ip is not None:
            condition["IpAddress"] = {"AWS:SourceIp": self.source_ip}
        if self.not_before is not None:
            condition["DateGreaterThan"] = {"AWS:EpochTime": self.not_before}
        return compact_json({"Statement": [{"Resource": self.resource, "Condition": condition}]})

    @classmethod
    def from_json(cls, text: str | bytes) -> CustomPolicy:
        """Parse a policy CloudFront would accept (any whitespace and key order).

        Raises :class:`~mediastore_ingest.errors.PolicyParseError` for anything else:
        several statements, unknown keys, non-integer times, a missing
        ``DateLessThan``.
        """
        if not isinstance(text, (str, bytes, bytearray)):
            raise PolicyParseError(f"policy must be JSON text, not {type_name(text)}")
        doc = strict_loads(text, error=PolicyParseError, what="policy")
        statement = _single_statement(doc)
        resource = statement.get("Resource")
        if not isinstance(resource, str):
            raise PolicyParseError("policy Statement needs a string Resource")
        condition = statement.get("Condition")
        if not isinstance(condition, Mapping):
            raise PolicyParseError("policy Statement needs a Condition object")
        unknown = set(condition) - {"DateLessThan", "DateGreaterThan", "IpAddress"}
        if unknown:
            raise PolicyParseError(f"unsupported Condition key(s): {', '.join(sorted(unknown))}")
        if "DateLessThan" not in condition:
            raise PolicyParseError("policy Condition needs DateLessThan")
        expires = _epoch_field(condition["DateLessThan"], "DateLessThan")
        not_before = (
            _epoch_field(condition["DateGreaterThan"], "DateGreaterThan")
            if "DateGreaterThan" in condition
            else None
        )
        source_ip = None
        if "IpAddress" in condition:
            ip = condition["IpAddress"]
            if not isinstance(ip, Mapping) or set(ip) != {"AWS:SourceIp"}:
                raise PolicyParseError('IpAddress must be {"AWS:SourceIp": "<cidr>"}')
            source_ip = ip["AWS:SourceIp"]
            if not isinstance(source_ip, str):
                raise PolicyParseError("AWS:SourceIp must be a string")
        try:
            return cls(resource, expires, not_before=not_before, source_ip=source_ip)
        except PolicyParseError:
            raise
        except PolicyError as exc:
            raise PolicyParseError(str(exc)) from exc

    def matches(self, url: str) -> bool:
        """CloudFront's wildcard match: ``*`` is zero or more characters, ``?`` exactly
        one, everything else literal and case-sensitive, over the whole URL."""
        return wildcard_match(self.resource, normalize_url(url))

    def is_valid_at(self, now: TimeLike, client_ip: str | None = None) -> bool:
        """True when ``now`` is in ``[not_before, expires)`` and ``client_ip`` is in
        ``source_ip`` (a policy with ``source_ip`` never matches an unknown client)."""
        t = to_epoch(now, name="now")
        if t >= self.expires:
            return False
        if self.not_before is not None and t < self.not_before:
            return False
        return _ip_in(client_ip, self.source_ip)


Policy = CannedPolicy | CustomPolicy


def _single_statement(doc: object) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping) or set(doc) != {"Statement"}:
        raise PolicyParseError('policy must be an object with exactly one key, "Statement"')
    statements = doc["Statement"]
    if not isinstance(statements, list) or len(statements) != 1:
        raise PolicyParseError("policy Statement must be a list of exactly one statement")
    statement = statements[0]
    if not isinstance(statement, Mapping):
        raise PolicyParseError("policy statement must be an object")
    unknown = set(statement) - {"Resource", "Condition"}
    if unknown:
        raise PolicyParseError(f"unsupported statement key(s): {', '.join(sorted(unknown))}")
    return statement


def _epoch_field(value: object, name: str) -> int:
    if not isinstance(value, Mapping) or set(value) != {"AWS:EpochTime"}:
        raise PolicyParseError(f'{name} must be {{"AWS:EpochTime": <int>}}')
    epoch = value["AWS:EpochTime"]
    if isinstance(epoch, bool) or not isinstance(epoch, int):
        raise PolicyParseError(f"{name} AWS:EpochTime must be an integer number of seconds")
    try:
        return to_epoch(epoch, name=name)
    except PolicyError as exc:
        raise PolicyParseError(str(exc)) from exc
