"""CloudFront canned and custom policies: pure values, no clock, no I/O.

A policy says which URL(s) a signature covers and when (and from where) it may be
used. [`CannedPolicy.to_json`][mediastore_ingest.signing.policy.CannedPolicy.to_json] and
[`CustomPolicy.to_json`][mediastore_ingest.signing.policy.CustomPolicy.to_json] return the
exact bytes CloudFront checks: CloudFront *rebuilds* a canned policy from the request
it receives, so the resource must be the URL exactly as it will be sent. Both classes
therefore normalise URLs the one way [`normalize_url`][mediastore_ingest.signing.normalize_url]
does (the form a browser sends), and the signer sends the normalised form.

Times are aware `datetime.datetime` values or integer epoch seconds; naive
datetimes and millisecond epochs are refused rather than guessed at.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl

import attrs

from mediastore_ingest._internal.jsonutil import compact_json, strict_loads
from mediastore_ingest._internal.show import shown, type_name
from mediastore_ingest.errors import InvalidInputError, PolicyError, PolicyParseError
from mediastore_ingest.signing.cache import BoundedCache

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
#: How much a custom policy grants, narrowest first (see `CustomPolicy.breadth`).
Breadth = Literal["url", "prefix", "pattern", "hosts", "key-group"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_ONE_SECOND = _dt.timedelta(seconds=1)
# Anything above this is far more likely a millisecond timestamp than a year-5138 date.
_MILLIS_THRESHOLD = 100_000_000_000

# The characters left as they are, per component; everything else is percent-encoded
# as UTF-8. Each set is what both a browser and urllib3 send unchanged: the WHATWG URL
# standard percent-encodes, in an http(s) URL, the *path percent-encode set* (C0
# controls, space, " # < > ? ` { } and non-ASCII) in the path and the *special-query
# percent-encode set* (C0 controls, space, " # < > ' and non-ASCII) in the query
# (https://url.spec.whatwg.org/#percent-encoded-bytes), and urllib3 everything outside
# RFC 3986's unreserved and sub-delims and ":@/?". So ' stays in a path but is sent as
# %27 in a query; encoding more than a browser does is harmless (it keeps %XX as it
# is), encoding less is what makes a browser send a URL other than the signed one.
_PATH_SAFE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    "-._~:/?@!$&'()*+,;=%"
)
_QUERY_SAFE = _PATH_SAFE - {"'"}
_PATH_ALREADY_SAFE = re.compile(r"[A-Za-z0-9\-._~:/?@!$&'()*+,;=]*\Z")
_QUERY_ALREADY_SAFE = re.compile(r"[A-Za-z0-9\-._~:/?@!$&()*+,;=]*\Z")
_HOST = re.compile(r"[a-z0-9.\-]+(?::[0-9]{1,5})?\Z|\[[0-9a-f:.]+\](?::[0-9]{1,5})?\Z")
_WILD_HOST = re.compile(r"[a-z0-9.\-*?]+(?::[0-9*?]{1,5})?\Z|\[[0-9a-f:.]+\](?::[0-9]{1,5})?\Z")
_PCT_TRIPLET = re.compile(r"%[0-9A-Fa-f]{2}")
# The shape nearly every request URL has, already in normalize_url's form: lower-case
# http(s) scheme and host, no port, a path with nothing to encode, no query.
_NORMAL_SHAPE = re.compile(r"https?://[a-z0-9.\-]+/[A-Za-z0-9\-._~:/@!$&'()*+,;=]*\Z").match
# Any URL already in normalize_url's form, query and port included; what the pattern
# cannot say (escapes upper-case, dot segments, the port's range, reserved names) is
# checked after it.
_WIRE_FORM = re.compile(
    r"(https?)://(?:[a-z0-9.\-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?"
    r"(/[A-Za-z0-9\-._~:/@!$&'()*+,;=%]*)(?:\?([A-Za-z0-9\-._~:/?@!$&()*+,;=%]*))?\Z"
).match
_BAD_ESCAPE = re.compile(r"%(?![0-9A-F]{2})").search
# Normalised URLs kept for reuse (a manifest re-signed every few seconds; a request URL
# normalised by the verifier and again by the policy it rebuilds): bounded in bytes as
# well as entries, so URLs sent by anyone cannot grow it.
_NORMALIZED: BoundedCache[str, str] = BoundedCache(4096, 1 << 20)
_NORMALIZED_WILDCARD: BoundedCache[str, str] = BoundedCache(1024, 1 << 20)


def to_epoch(value: object, *, name: str = "time") -> int:
    """Convert an aware datetime or integer epoch seconds to epoch seconds.

    Refuses naive datetimes, floats, booleans, negative values, values that look like
    milliseconds and anything after 2038-01-19T03:14:07Z, each with a
    [`PolicyError`][mediastore_ingest.errors.PolicyError] naming ``name``.
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
    [`InvalidInputError`][mediastore_ingest.errors.InvalidInputError] when it gives no usable
    time."""
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


def _encode_part(text: str, safe: frozenset[str]) -> str:
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
        elif ch in safe:
            out.append(ch)
        else:
            out.append(_quote_char(ch))
        i += 1
    return "".join(out)


def normalize_url(url: str, *, allow_wildcards: bool = False) -> str:
    """Return ``url`` in the one form that is both signed and sent.

    It is the form HTTP clients (browsers, urllib3, curl) put on the wire unchanged:
    what the WHATWG URL standard has a browser percent-encode is percent-encoded
    (UTF-8) exactly once (spaces, non-ASCII characters, controls, and in the query
    ``'`` as ``%27``), as are the few other characters urllib3 would encode (``[``,
    ``]``, ``\\``, ``^``, ``|``, …); existing ``%XX`` escapes are kept but upper-cased,
    a lone ``%`` becomes ``%25``; ``.``/``..`` path segments are resolved (RFC 3986); a
    default port (``:443`` for https, ``:80`` for http) is dropped; the host is
    IDNA-encoded and lower-cased. Refused with
    [`PolicyError`][mediastore_ingest.errors.PolicyError]: schemes other than
    http/https, a ``#fragment``, a missing host, a port outside 1-65535, and
    CloudFront's reserved query parameters.

    With ``allow_wildcards`` (custom-policy resources), ``*`` may stand anywhere,
    including in the scheme (``http*://``) or as the whole resource; dot segments are
    refused there rather than resolved, since resolving would change what the
    wildcard covers. The query is what follows the first ``?`` there too.
    """
    if not isinstance(url, str):
        raise PolicyError(f"URL must be a str, not {type_name(url)}")
    if allow_wildcards:
        cache = _NORMALIZED_WILDCARD
    elif (_NORMAL_SHAPE(url) is not None and "/." not in url) or in_wire_form(url):
        return url  # the first test is already_normal, inline: most URLs stop there
    else:
        cache = _NORMALIZED
    found = cache.get(url)
    if found is None:
        found = _normalize_url(url, allow_wildcards)
        cache.put(url, found, len(url) + len(found))
    return found


def normalize_url_uncached(url: str, *, allow_wildcards: bool = False) -> str:
    """[`normalize_url`][mediastore_ingest.signing.normalize_url] without its cache:
    for a caller that keeps nothing (a verifier made with ``cache_size=0``)."""
    if not isinstance(url, str):
        raise PolicyError(f"URL must be a str, not {type_name(url)}")
    if not allow_wildcards and in_wire_form(url):
        return url
    return _normalize_url(url, allow_wildcards)


def already_normal(url: str) -> bool:
    """True when ``normalize_url(url)`` is ``url`` and a regex can tell, for a URL
    with no query and no port (the verifier's shortcut relies on that: the first
    ``?`` of such a URL ends it).

    A live stream's URLs are new every few seconds, so no cache holds them; this
    check costs a tenth of a full pass.
    ``tests/unit/signing/test_policy.py`` holds it to the full normaliser's answers.
    """
    return _NORMAL_SHAPE(url) is not None and "/." not in url  # "/.": a dot segment, maybe


def in_wire_form(url: str) -> bool:
    """True when ``normalize_url(url)`` is ``url`` and cheap checks can tell: any
    http(s) URL already in that form, with a port or a query (but no reserved
    parameter, no dot segment and no lower-case escape). ``False`` says nothing.
    ``tests/unit/signing/test_policy.py`` holds it to the full normaliser's answers."""
    match = _WIRE_FORM(url)
    if match is None:
        return False
    scheme, port, path, query = match.groups()
    if "/." in path or ("%" in url and _BAD_ESCAPE(url)):
        return False
    if port is not None and (
        port == ("443" if scheme == "https" else "80") or not 1 <= int(port) <= 65535
    ):
        return False
    return not query or not _reserved_names(query)


def _reserved_names(query: str) -> list[str]:
    """The CloudFront-reserved parameter names in ``query``, as CloudFront reads them."""
    if "%" in query or "+" in query:  # names may be escaped: decode as parse_qsl does
        names = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    else:
        names = {pair.partition("=")[0] for pair in query.split("&")}
    return sorted(names & RESERVED_QUERY_PARAMS)


def _normalize_url(url: str, allow_wildcards: bool) -> str:
    if not url:
        raise PolicyError("URL must not be empty")
    if "#" in url:
        raise PolicyError(
            f"URL {url!r} has a #fragment; browsers never send it, so CloudFront "
            "would never see the signed form"
        )
    if allow_wildcards and url.startswith("*"):
        path, q, query = url.partition("?")
        return _encode_component(path, q, query)
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
    path, q, query = tail.partition("?")
    path, _, query = _encode_component(path, q, query).partition("?")
    if "/." in path:
        segments = path.split("/")
        if "." in segments or ".." in segments:
            if allow_wildcards:
                raise PolicyError(
                    f"resource {url!r} has a dot segment ('.' or '..'); write the path "
                    "clients will send"
                )
            path = _remove_dot_segments(path)
    if q and query:
        clash = _reserved_names(query)
        if clash:
            raise PolicyError(
                f"URL {url!r} uses query parameter(s) {', '.join(clash)} that CloudFront "
                "reserves for signing; rename them"
            )
    return f"{scheme}://{host}{path}{q}{query}"


def _encode_component(path: str, q: str, query: str) -> str:
    """``path`` + ``q`` + ``query``, each part encoded with its own safe set."""
    if not _PATH_ALREADY_SAFE.match(path):
        path = _encode_part(path, _PATH_SAFE)
    if query and not _QUERY_ALREADY_SAFE.match(query):
        query = _encode_part(query, _QUERY_SAFE)
    return path + q + query


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
    resource = normalize_url(value)
    # A canned policy has no wildcards: CloudFront rebuilds it from the request URL
    # and checks the signature over those bytes, so its Resource is compared exactly
    # (the Developer Guide's "Values that you specify in the policy statement for a
    # canned policy": "The base URL including your query strings, if any"; wildcards
    # are described for custom policies only). A literal '*' in the query (RFC 5987's
    # filename*=) is just a byte of the URL; one in the path is far more likely a
    # wildcard meant for a custom policy, which a canned policy would never match.
    if "*" in resource.partition("?")[0]:
        raise PolicyError(
            f"resource {value!r} contains '*' in its path: a canned policy covers one "
            "exact URL; use CustomPolicy for wildcards"
        )
    return resource


def _custom_resource(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PolicyError(f"resource must be a str or None, not {type_name(value)}")
    return normalize_url(value, allow_wildcards=True)


# The canned policy text around its two values: HEAD resource MIDDLE expires TAIL.
_CANNED_HEAD = '{"Statement":[{"Resource":"'
_CANNED_MIDDLE = '","Condition":{"DateLessThan":{"AWS:EpochTime":'
_CANNED_TAIL = "}}}]}"


@attrs.frozen(cache_hash=True)
class CannedPolicy:
    """A canned policy: one exact URL, an expiry, nothing else.

    ``resource`` is normalised with [`normalize_url`][mediastore_ingest.signing.normalize_url];
    a ``*`` in its path is refused (a wildcard would silently become a literal ``*``
    in a canned policy), a ``*`` in its query is a literal character and kept.
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


_BREADTH_NOTES: dict[str, str] = {
    "key-group": (
        "{what}: the policy grants every object of every distribution whose trusted key "
        "group holds the signing key"
    ),
    "hosts": (
        "Resource {resource!r} has a wildcard in its scheme or host: the policy grants "
        "every distribution of the key group whose URL matches, not one distribution"
    ),
    "pattern": (
        "Resource {resource!r} has wildcards inside its path or query: check that they "
        "cover only the objects meant"
    ),
}


@attrs.frozen(cache_hash=True)
class CustomPolicy:
    """A custom policy: a resource that may use ``*`` and ``?``, an expiry, and
    optionally a start time (``not_before``) and an IPv4 range (``source_ip``).

    ``resource=None`` leaves the Resource out, which CloudFront reads as every object
    of every distribution that trusts the key group (the Developer Guide: "If you omit
    the Resource parameter, users can access all of the objects associated with any
    distribution that is associated with the key pair"); see
    [`breadth`][mediastore_ingest.signing.policy.CustomPolicy.breadth].
    ``source_ip`` is normalised to CIDR form (``192.0.2.7`` → ``192.0.2.7/32``);
    IPv6 and CIDRs with host bits set are refused.

    ``text`` is the caller's own policy text when the policy was read with
    [`from_json(text, keep_text=True)`][mediastore_ingest.signing.policy.CustomPolicy.from_json]:
    [`to_json`][mediastore_ingest.signing.policy.CustomPolicy.to_json] then returns it byte for
    byte and the signature is made over it. It is not an argument: a policy built,
    or changed with ``attrs.evolve`` (the ingest client renewing its expiry), is written
    the canonical way. Two policies are equal when they sign the same bytes.
    """

    resource: str | None = attrs.field(converter=_custom_resource)
    expires: int = attrs.field(converter=_expires_epoch)
    not_before: int | None = attrs.field(
        default=None, converter=_optional_epoch, validator=_check_custom
    )
    source_ip: str | None = attrs.field(default=None, converter=_normalize_source_ip)
    text: str | None = attrs.field(default=None, init=False, repr=False)

    def to_json(self) -> str:
        """The policy text that is signed: the caller's, when kept, or compact JSON with
        the key order the CloudFront docs and botocore write."""
        if self.text is not None:
            return self.text
        condition: dict[str, Any] = {"DateLessThan": {"AWS:EpochTime": self.expires}}
        if self.source_ip is not None:
            condition["IpAddress"] = {"AWS:SourceIp": self.source_ip}
        if self.not_before is not None:
            condition["DateGreaterThan"] = {"AWS:EpochTime": self.not_before}
        statement: dict[str, Any] = {"Condition": condition}
        if self.resource is not None:
            statement = {"Resource": self.resource, **statement}
        return compact_json({"Statement": [statement]})

    @classmethod
    def from_json(cls, text: str | bytes, *, keep_text: bool = False) -> CustomPolicy:
        """Parse a policy CloudFront would accept (any whitespace and key order).

        Raises [`PolicyParseError`][mediastore_ingest.errors.PolicyParseError] for
        anything else: several statements, unknown keys, non-integer times, a missing
        ``DateLessThan``.

        ``keep_text=True`` keeps ``text`` itself (a policy made by another tool, or kept byte for
        byte for an audit): it is what
        [`to_json`][mediastore_ingest.signing.policy.CustomPolicy.to_json] returns and what the
        signer signs. The text must then say what CloudFront will read: a Resource already in the
        form clients send (percent-encoded, lower-case host: what
        [`normalize_url`][mediastore_ingest.signing.normalize_url] returns) and an ``AWS:SourceIp``
        in CIDR form; else ``PolicyParseError``, naming the form to write.
        """
        return _parse_custom(text, "yes" if keep_text else "no")

    def matches(self, url: str) -> bool:
        """CloudFront's wildcard match: ``*`` is zero or more characters, ``?`` exactly
        one, everything else literal and case-sensitive, over the whole URL (any URL,
        when there is no resource)."""
        normalized = normalize_url(url)
        return self.resource is None or wildcard_match(self.resource, normalized)

    def is_valid_at(self, now: TimeLike, client_ip: str | None = None) -> bool:
        """True when ``now`` is in ``[not_before, expires)`` and ``client_ip`` is in
        ``source_ip`` (a policy with ``source_ip`` never matches an unknown client)."""
        t = to_epoch(now, name="now")
        if t >= self.expires:
            return False
        if self.not_before is not None and t < self.not_before:
            return False
        return _ip_in(client_ip, self.source_ip)

    def breadth(self) -> Breadth:
        """How much the policy grants, narrowest first:

        - ``"url"``: one URL (no ``*`` or ``?``), as a canned policy would;
        - ``"prefix"``: everything under one path of one host (a single trailing ``*``);
        - ``"pattern"``: URLs of one host matching wildcards inside the path or query;
        - ``"hosts"``: a wildcard in the scheme or host (``https://*.example.com/…``,
          ``http*://…``, a resource starting with ``*``): every distribution of the key
          group that matches;
        - ``"key-group"``: no resource, or ``*`` alone: every object of every
          distribution that trusts the key group.
        """
        resource = self.resource
        if resource is None or not resource.strip("*"):
            return "key-group"
        scheme, sep, rest = resource.partition("://")
        host = rest.partition("/")[0]
        if not sep or "*" in scheme or "*" in host or "?" in host:
            return "hosts"
        if "*" not in resource and "?" not in resource:
            return "url"
        if "?" not in resource and resource.count("*") == 1 and resource.endswith("*"):
            return "prefix"
        return "pattern"

    def findings(self) -> tuple[str, ...]:
        """What a reviewer should know about how broad the policy is, one sentence
        each; empty for a policy that names one URL or one path prefix."""
        breadth = self.breadth()
        notes: list[str] = []
        template = _BREADTH_NOTES.get(breadth)
        if template is not None:
            what = "no Resource" if self.resource is None else "Resource '*'"
            notes.append(template.format(what=what, resource=self.resource))
        if self.resource is not None and "?" in self.resource:
            notes.append(
                f"Resource {self.resource!r} has '?', which matches any one character "
                "(not only a literal '?'): a query string there is a pattern too"
            )
        return tuple(notes)


Policy = CannedPolicy | CustomPolicy


def read_signed_policy(text: bytes) -> CustomPolicy:
    """The custom policy a verified signature was made over, keeping its text when
    CloudFront reads it as the policy says (what the signer signed, byte for byte), and
    parsed as before when it cannot be kept (a policy another tool wrote)."""
    return _parse_custom(text, "if-exact")


def _parse_custom(text: object, keep: Literal["yes", "no", "if-exact"]) -> CustomPolicy:
    """A custom policy from its JSON text. ``keep``: whether the policy keeps the text
    (``"if-exact"``: when CloudFront reads it as the policy says, else not, quietly)."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise PolicyParseError(f"policy must be JSON text, not {type_name(text)}")
    if isinstance(text, bytearray):
        text = bytes(text)
    doc = strict_loads(text, error=PolicyParseError, what="policy")
    statement = _single_statement(doc)
    resource = statement.get("Resource")
    if "Resource" in statement and not isinstance(resource, str):
        raise PolicyParseError("policy Statement Resource must be a string")
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
        policy = CustomPolicy(resource, expires, not_before=not_before, source_ip=source_ip)
    except PolicyParseError:
        raise
    except PolicyError as exc:
        raise PolicyParseError(str(exc)) from exc
    if keep == "no":
        return policy
    given = text if isinstance(text, str) else text.decode("utf-8")
    if given == policy.to_json():
        return policy  # the canonical text: nothing to keep
    problem = _read_differently(policy, resource, source_ip)
    if problem is not None:
        if keep == "yes":
            raise PolicyParseError(f"policy text kept as given {problem}")
        return policy
    object.__setattr__(policy, "text", given)
    return policy


def _read_differently(
    policy: CustomPolicy, resource: object, source_ip: object
) -> str | None:
    """Why CloudFront would read a kept text otherwise than ``policy`` says, or None."""
    if resource != policy.resource:
        return (
            f"has Resource {shown(resource)}, which CloudFront compares with the URL as "
            f"clients send it; write {shown(policy.resource)}"
        )
    if source_ip != policy.source_ip:
        return f"has AWS:SourceIp {shown(source_ip)}; write it as {shown(policy.source_ip)}"
    return None


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
