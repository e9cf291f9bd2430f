"""How a refused value appears in an error message: short, and never a secret."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["SHOWN_LIMIT", "shown", "type_name"]

#: The longest repr a message shows of a refused value.
SHOWN_LIMIT = 60


def type_name(value: object) -> str:
    """The name of ``value``'s type: what a message says of a value it must not show."""
    return type(value).__name__


def shown(
    value: object,
    *,
    limit: int = SHOWN_LIMIT,
    hide: Callable[[str], bool] | None = None,
) -> str:
    """``value`` as an error message may show it.

    ``None``, bools and numbers are shown as they are; a str is shown (its repr) if
    it fits in ``limit`` characters and ``hide`` (if given) does not say it may be a
    secret, else it is described by its length only; anything else (a container, a
    bytes object, an object with a ``repr`` of its own) is named by its type, since it
    may hold a secret and its ``repr`` may be long.
    """
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        text = repr(value)
        if len(text) <= limit and not (hide is not None and hide(value)):
            return text
        return f"a str of {len(value)} characters (not shown)"
    return type_name(value)
