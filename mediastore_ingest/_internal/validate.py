"""Argument checks shared by the local test servers.

Each check raises :class:`~mediastore_ingest.errors.InvalidInputError` naming the
argument and showing the (short) repr of what was given. Checks are cheap and run
before a server makes anything (temporary directory, CA, socket), so a refused
argument leaves nothing behind. Never pass a secret as ``value``: it is shown.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit

from mediastore_ingest.errors import InvalidInputError

__all__ = [
    "as_bytes",
    "check_callable",
    "check_credentials",
    "check_header_value",
    "check_int",
    "check_number",
    "check_optional_str",
    "check_path",
    "check_port",
    "check_str",
    "check_strs",
    "parse_http_url",
]


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(name: str, expected: str, value: object) -> InvalidInputError:
    return InvalidInputError(f"{name} must be {expected}, not {_shown(value)}")


def check_int(name: str, value: object, *, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]`` (a bool is not an int here)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise _fail(name, f"an int {bounds}", value)
    return value


def check_number(name: str, value: object, *, zero: bool = False) -> float:
    """``value`` as a finite int or float > 0 (>= 0 with ``zero``), not a bool."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not zero)
    ):
        raise _fail(name, f"a finite number {'>=' if zero else '>'} 0", value)
    return value


def check_str(name: str, value: object, *, empty: bool = False) -> str:
    """``value`` as a non-empty str (or any str, with ``empty``)."""
    if not isinstance(value, str) or not (value or empty):
        raise _fail(name, "a str" if empty else "a non-empty str", value)
    return value


def check_optional_str(name: str, value: object, *, empty: bool = False) -> str | None:
    """``None``, or a non-empty str (or any str, with ``empty``)."""
    return None if value is None else check_str(name, value, empty=empty)


def check_header_value(name: str, value: object) -> str | None:
    """``None``, or a str fit for one header line (no CR, LF or NUL)."""
    if value is not None and (not isinstance(value, str) or any(c in value for c in "\r\n\0")):
        raise _fail(name, "None or a one-line str", value)
    return value


def check_strs(name: str, value: object) -> tuple[str, ...]:
    """``value`` (an iterable, not a bare str) as a tuple of non-empty strs."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise _fail(name, "a list of non-empty str (not a bare str)", value)
    items = tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise InvalidInputError(
                f"{name} must hold non-empty str only, not {_shown(item)}"
            )
    return items


def parse_http_url(name: str, value: object) -> SplitResult:
    """``value``, an absolute ``http``/``https`` URL with a host (and a valid port), split."""
    split = None
    if isinstance(value, str):
        try:
            split = urlsplit(value)
            split.port  # noqa: B018 - raises ValueError for a port that is not one
        except ValueError:
            split = None
    if split is None or split.scheme not in ("http", "https") or not split.hostname:
        raise _fail(name, "an absolute http(s) URL", value)
    return split


def check_callable(name: str, value: object) -> None:
    """Refuse a ``value`` that cannot be called."""
    if not callable(value):
        raise _fail(name, "callable", value)


def check_port(value: object) -> int:
    """A TCP port to listen on (0: any free port)."""
    return check_int("port", value, minimum=0, maximum=65535)


def check_path(name: str, value: object) -> str | os.PathLike[str] | None:
    """``None``, or a filesystem path (str or ``os.PathLike``)."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise _fail(name, "None, a str or an os.PathLike path", value)
    return value


def check_credentials(value: object) -> Mapping[Any, Any]:
    """A mapping of non-empty str access key ids (the values are checked by the caller)."""
    if not isinstance(value, Mapping):  # it may hold secrets: name the type only
        raise InvalidInputError(
            f"credentials must be a mapping of access key id -> secret key, "
            f"not {type(value).__name__}"
        )
    check_strs("credentials keys (access key ids)", value)  # a mapping iterates its keys
    return value


def as_bytes(name: str, value: object) -> bytes:
    """``value`` (bytes or another bytes-like object: bytearray, memoryview...) as bytes."""
    if isinstance(value, bytes):
        return value
    try:
        return memoryview(value).tobytes()  # type: ignore[arg-type]
    except TypeError:
        raise _fail(name, "bytes or a bytes-like object", value) from None
