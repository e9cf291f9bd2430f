"""The header fields of one request, as a handler reads them (``self.headers``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import overload

__all__ = ["RequestHeaders"]


class RequestHeaders:
    """Header fields in the order and spelling received; names match case-insensitively.

    What handlers used of ``http.client.HTTPMessage``: ``get``,
    ``get_all``, ``items``, ``name in headers``, ``headers[name]`` (the first
    value, ``None`` if absent, as ``email.message.Message`` does), iteration over the
    names. Values are ``latin-1`` decoded, without surrounding whitespace. Immutable.
    """

    __slots__ = ("_fields", "_index")

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields = tuple(fields)
        index: dict[str, list[str]] = {}
        for name, value in self._fields:
            index.setdefault(name.lower(), []).append(value)
        self._index = index

    @overload
    def get(self, name: str) -> str | None: ...

    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``."""
        values = self._index.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str, failobj: list[str] | None = None) -> list[str] | None:
        """Every value of ``name`` in order, or ``failobj`` (``None``) when absent."""
        values = self._index.get(name.lower())
        return list(values) if values else failobj

    def items(self) -> list[tuple[str, str]]:
        """``(name, value)`` pairs, in order."""
        return list(self._fields)

    def keys(self) -> list[str]:
        """The names, in order (repeated names repeat)."""
        return [name for name, _ in self._fields]

    def values(self) -> list[str]:
        """The values, in order."""
        return [value for _, value in self._fields]

    def __getitem__(self, name: str) -> str | None:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:  # values may be credentials: names only
        return f"RequestHeaders({', '.join(self.keys())})"
