"""One list of what may be a credential, and the ways to hide it.

Used by every ``repr`` that could show a request, by the package's own log lines, by
the local servers' request records and by the logging filter the package puts on the
urllib3 pools it makes. A new credential parameter or header is added here, once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

__all__ = [
    "SECRET_HEADERS",
    "SECRET_HEADER_WORDS",
    "SECRET_QUERY_PARAMS",
    "Redacted",
    "RedactingFilter",
    "is_secret_header",
    "redact_headers",
    "redact_query",
    "redact_userinfo",
    "target_repr",
]

#: Headers whose values can be credentials (lower case): an ingest secret travels as
#: a ``User-Agent``, signed cookies as ``Cookie``, SigV4 as ``Authorization``.
SECRET_HEADERS = frozenset(
    {"user-agent", "authorization", "proxy-authorization", "cookie", "x-amz-security-token"}
)
#: A header whose lower-case name holds one of these is taken for a credential too.
SECRET_HEADER_WORDS = ("token", "secret", "signature")
#: Query parameters that authorise a request: CloudFront signed URLs (``Signature``,
#: ``Policy``) and SigV4 presigned URLs.
SECRET_QUERY_PARAMS = ("Signature", "Policy", "X-Amz-Signature", "X-Amz-Security-Token")

_SECRET_QUERY_RE = re.compile(
    r"(?i)(?<=[?&;])(" + "|".join(map(re.escape, SECRET_QUERY_PARAMS)) + r")=[^&;\s\"']*"
)
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s]*@")


class Redacted(str):
    """A str whose ``repr`` hides it: a header value that may be a credential.

    It equals, hashes, prints (``str``) and formats as the value itself; only
    ``repr`` is ``'<redacted>'``: what attrs reprs, ``pprint`` and pytest show for a
    failed comparison of whole requests or header tuples. For a comparison of the
    value alone (``assert req.user_agent == "x"``), whose pytest diff would print the
    text, this package's pytest plugin gives an explanation without it.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<redacted>'"


def is_secret_header(name: str, names: frozenset[str] = SECRET_HEADERS) -> bool:
    """True if header ``name`` may carry a credential."""
    lname = name.lower()
    return lname in names or any(word in lname for word in SECRET_HEADER_WORDS)


def redact_headers(
    headers: Iterable[tuple[str, str]], names: frozenset[str] = SECRET_HEADERS
) -> tuple[tuple[str, str], ...]:
    """``headers`` with the values that may be credentials wrapped in ``Redacted``:
    those of ``names`` (lower case) and of any name with a ``SECRET_HEADER_WORDS``
    word in it."""
    out = []
    for name, value in headers:
        if type(value) is str and is_secret_header(name, names):  # not Redacted already
            value = Redacted(value)
        out.append((name, value))
    return tuple(out)


def redact_query(text: str) -> str:
    """``text`` (a URL, request target, request line or log line) with the value of
    every ``SECRET_QUERY_PARAMS`` parameter shown as ``<redacted>``."""
    return _SECRET_QUERY_RE.sub(r"\1=<redacted>", text)


def target_repr(target: str) -> str:
    """The ``repr`` of a URL or request target, with its signatures redacted (for
    ``attrs.field(repr=target_repr)``)."""
    return repr(redact_query(target))


def redact_userinfo(text: str) -> str:
    """``text`` with the user information of every URL in it shown as ``***``
    (a proxy URL may carry a user name and password, and the name may be a token)."""
    return _USERINFO_RE.sub(r"\1***@", text)


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites a record's message with signatures, policies
    and URL passwords redacted.

    urllib3 logs each request line at DEBUG (``"PUT /live/seg1.ts?…&Signature=…"``):
    the package adds this filter to the loggers of the pools it makes, so turning on
    DEBUG logging never prints a bearer credential. Add it to your own handlers to
    cover other loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's to report
            return True
        clean = redact_userinfo(redact_query(message))
        if clean != message:
            record.msg, record.args = clean, None
        return True
