"""Composable argument checks, defined once and combined per field.

Each check is an attrs validator (``attrs.field(validator=int_in(1))``) and can check a
plain function argument too (``check("port", port, int_in(0, 65535))``). A refused value
raises ``InvalidInputError`` naming the argument and
showing the value the way ``shown`` does (a
container or a long str is described, never printed: it may hold a secret).

The ``check_*`` functions below are the common combinations, for code that checks
arguments before it makes anything (a temporary directory, a CA, a socket), so a
refused argument leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar
from urllib.parse import SplitResult, urlsplit

import attrs

from mediastore_ingest._internal.show import shown, type_name
from mediastore_ingest.errors import InvalidInputError

__all__ = [
    "Validator",
    "as_bytes",
    "check",
    "check_callable",
    "check_credentials",
    "check_header_value",
    "check_instances",
    "check_int",
    "check_number",
    "check_optional_str",
    "check_path",
    "check_port",
    "check_str",
    "check_strs",
    "header_name",
    "instance_of",
    "int_in",
    "is_bool",
    "is_callable",
    "matches",
    "number",
    "one_line",
    "one_of",
    "optional",
    "parse_http_url",
    "refusals_as",
    "str_items",
    "text",
]

_T = TypeVar("_T")


class _Named(NamedTuple):
    """What a check needs of an attrs attribute: its name."""

    name: str


@attrs.frozen(repr=False)
class Validator:
    """One check: ``test(value)`` must hold; ``expected`` says what was wanted.

    ``show_value=False`` names the value's type only (for values that may be secrets
    whatever their type, such as a proxy URL given as bytes).
    """

    expected: str
    test: Callable[[Any], bool]
    show_value: bool = True

    def __call__(self, instance: Any, attribute: Any, value: Any) -> None:
        if not self.test(value):
            seen = shown(value) if self.show_value else type_name(value)
            raise InvalidInputError(f"{attribute.name} must be {self.expected}, not {seen}")

    def __repr__(self) -> str:
        return f"<validator: {self.expected}>"


def check(name: str, value: _T, validator: Callable[[object, Any, object], None]) -> _T:
    """Run ``validator`` (any attrs validator) on a function argument; returns ``value``."""
    validator(None, _Named(name), value)
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def int_in(minimum: int | None = None, maximum: int | None = None) -> Validator:
    """An int (not a bool) in ``[minimum, maximum]``."""
    if maximum is None:
        bounds = "" if minimum is None else f" >= {minimum}"
    else:
        bounds = f" <= {maximum}" if minimum is None else f" in [{minimum}, {maximum}]"
    return Validator(
        f"an int{bounds}",
        lambda v: _is_int(v)
        and (minimum is None or v >= minimum)
        and (maximum is None or v <= maximum),
    )


def number(*, zero: bool = False, infinite: bool = False) -> Validator:
    """An int or float (not a bool, not NaN) > 0 (>= 0 with ``zero``); infinity only
    with ``infinite`` (for limits where it means "no limit")."""
    kind = "a number" if infinite else "a finite number"
    return Validator(
        f"{kind} {'>=' if zero else '>'} 0",
        lambda v: (_is_int(v) or isinstance(v, float))
        and not math.isnan(v)
        and (infinite or math.isfinite(v))
        and (v >= 0 if zero else v > 0),
    )


def text(*, empty: bool = False) -> Validator:
    """A str (non-empty unless ``empty``)."""
    return Validator(
        "a str" if empty else "a non-empty str",
        lambda v: isinstance(v, str) and (empty or bool(v)),
    )


def one_line(*, empty: bool = True) -> Validator:
    """A str fit for one header line: no CR, LF or NUL (non-empty unless ``empty``)."""
    return Validator(
        "a one-line str" if empty else "a non-empty one-line str",
        lambda v: isinstance(v, str)
        and (empty or bool(v))
        and "\r" not in v and "\n" not in v and "\0" not in v,
    )


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def header_name(max_length: int | None = None) -> Validator:
    """An HTTP field name: a token of RFC 9110 (letters, digits and
    ``!#$%&'*+-.^_`|~``), at most ``max_length`` characters if given."""
    limit = "" if max_length is None else f" of at most {max_length} characters"
    return Validator(
        f"an HTTP header name{limit}",
        lambda v: isinstance(v, str)
        and _TOKEN.match(v) is not None
        and (max_length is None or len(v) <= max_length),
    )


def is_bool() -> Validator:
    """``True`` or ``False`` (not 0 or 1)."""
    return Validator("True or False", lambda v: isinstance(v, bool))


def is_callable() -> Validator:
    """Anything that can be called."""
    return Validator("callable", callable)


def instance_of(cls: type | tuple[type, ...], what: str | None = None) -> Validator:
    """An instance of ``cls``; the value's type only is shown when refused."""
    names = cls if isinstance(cls, tuple) else (cls,)
    label = what or " or ".join(f"a {c.__name__}" for c in names)
    return Validator(label, lambda v: isinstance(v, cls), show_value=False)


def matches(pattern: re.Pattern[str], expected: str) -> Validator:
    """A str that ``pattern`` matches in full; ``expected`` says what that is
    (``"1-64 letters, digits or '-'"``)."""
    return Validator(
        expected, lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None
    )


def one_of(*values: object) -> Validator:
    """One of ``values`` (compared with ``==``, types included: ``True`` is not ``1``)."""
    label = " or ".join(repr(v) for v in values)
    return Validator(label, lambda v: any(type(v) is type(x) and v == x for x in values))


def optional(validator: Validator) -> Validator:
    """``None``, or what ``validator`` takes."""
    return Validator(
        f"None or {validator.expected}",
        lambda v: v is None or validator.test(v),
        validator.show_value,
    )


def str_items(
    value: object,
    name: str,
    *,
    error: type[Exception] = InvalidInputError,
    empty_items: bool = False,
) -> tuple[str, ...]:
    """The one rule for "a str or an iterable of str": a bare str is one item; any
    other iterable (not bytes, not a mapping) gives its items, each a str (non-empty
    unless ``empty_items``). Refused items are described, never shown (condition values
    and header lists hold secrets). Raises ``error``."""
    if isinstance(value, str):
        items: tuple[object, ...] = (value,)
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray, Mapping)):
        items = tuple(value)
    else:
        raise error(f"{name} must be a str or an iterable of str, got {type_name(value)}")
    for item in items:
        if not isinstance(item, str) or not (item or empty_items):
            kind = "an empty str" if isinstance(item, str) else type_name(item)
            raise error(f"{name} must be non-empty strings, got {kind}")
    return items  # type: ignore[return-value]  # each item checked to be a str


# --- common combinations, as functions -------------------------------------------------


@contextlib.contextmanager
def refusals_as(error: type[Exception]) -> Iterator[None]:
    """Inside the block, a check's ``InvalidInputError``
    is raised as ``error`` with the same message: for code whose refusals belong to a
    family of their own (a distribution config CloudFront would refuse is a
    ``DistributionConfigError``)."""
    try:
        yield
    except InvalidInputError as exc:
        raise error(str(exc)) from None


def check_int(name: str, value: object, *, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]`` (a bool is not an int here)."""
    return check(name, value, int_in(minimum, maximum))  # type: ignore[return-value]


def check_number(name: str, value: object, *, zero: bool = False) -> float:
    """``value`` as a finite int or float > 0 (>= 0 with ``zero``), not a bool."""
    return check(name, value, number(zero=zero))  # type: ignore[return-value]


def check_str(name: str, value: object, *, empty: bool = False) -> str:
    """``value`` as a non-empty str (or any str, with ``empty``)."""
    return check(name, value, text(empty=empty))  # type: ignore[return-value]


def check_optional_str(name: str, value: object, *, empty: bool = False) -> str | None:
    """``None``, or a non-empty str (or any str, with ``empty``)."""
    return check(name, value, optional(text(empty=empty)))  # type: ignore[return-value]


def check_header_value(name: str, value: object) -> str | None:
    """``None``, or a str fit for one header line (no CR, LF or NUL)."""
    return check(name, value, optional(one_line()))  # type: ignore[return-value]


def check_strs(name: str, value: object) -> tuple[str, ...]:
    """``value`` (an iterable, not a bare str) as a tuple of non-empty strs."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidInputError(
            f"{name} must be a list of non-empty str (not a bare str), not {shown(value)}"
        )
    items = tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise InvalidInputError(f"{name} must hold non-empty str only, not {shown(item)}")
    return items


def check_instances(
    name: str, value: object, cls: type[_T], *, hint: str = ""
) -> tuple[_T, ...]:
    """``value``, an iterable (not a str, bytes or mapping) of ``cls`` instances, as a
    tuple. The refusal names the wrong type, never the value (a dict or a tuple given
    for a policy statement holds its secret); ``hint`` is added to it."""
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes, Mapping)):
        raise InvalidInputError(
            f"{name} must be an iterable of {cls.__name__} objects, got {type_name(value)}"
        )
    items = tuple(value)
    for item in items:
        if not isinstance(item, cls):
            raise InvalidInputError(
                f"{name} must hold {cls.__name__} objects, got {type_name(item)}{hint}"
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
        raise InvalidInputError(f"{name} must be an absolute http(s) URL, not {shown(value)}")
    return split


def check_callable(name: str, value: object) -> None:
    """Refuse a ``value`` that cannot be called."""
    check(name, value, is_callable())


def check_port(value: object) -> int:
    """A TCP port to listen on (0: any free port)."""
    return check_int("port", value, minimum=0, maximum=65535)


def check_path(name: str, value: object) -> str | os.PathLike[str] | None:
    """``None``, or a filesystem path (str or ``os.PathLike``)."""
    return check(  # type: ignore[return-value]
        name, value, optional(instance_of((str, os.PathLike), "a str or an os.PathLike path"))
    )


def check_credentials(value: object) -> Mapping[Any, Any]:
    """A mapping of non-empty str access key ids (the values are checked by the caller)."""
    if not isinstance(value, Mapping):  # it may hold secrets: name the type only
        raise InvalidInputError(
            f"credentials must be a mapping of access key id -> secret key, "
            f"not {type_name(value)}"
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
        raise InvalidInputError(
            f"{name} must be bytes or a bytes-like object, not {shown(value)}"
        ) from None
