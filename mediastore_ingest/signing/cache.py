"""The one cache of the signing layer: bounded in entries *and* in bytes.

The signer (signatures per policy), the verifier (signatures that verified) and URL
normalisation each keep one. A cache keyed by what a request carries must not grow
with what an attacker sends, so each entry is counted by the size of the text it
holds, and the oldest entries go when either bound would be passed. A lookup is one
dict read, no lock: this is on every signature's path.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``max_entries`` values, whose sizes (as the caller measures them: the
    length of the text an entry holds) add up to at most ``max_bytes``; the oldest go
    first (a value still in use comes back at its next miss: one signature, one
    parse). ``max_entries=0`` keeps nothing; a value larger than
    ``max_bytes`` is not kept. Safe to share between threads.
    """

    __slots__ = ("_bytes", "_data", "_lock", "max_bytes", "max_entries")

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._data: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value kept for ``key``, or ``None``."""
        item = self._data.get(key)
        return None if item is None else item[0]

    def put(self, key: K, value: V, size: int) -> None:
        """Keep ``value`` for ``key``, ``size`` counting towards ``max_bytes``."""
        if size > self.max_bytes or self.max_entries <= 0:
            return
        with self._lock:
            data = self._data
            old = data.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            while data and (len(data) >= self.max_entries or self._bytes + size > self.max_bytes):
                _, (_, dropped) = data.popitem(last=False)
                self._bytes -= dropped
            data[key] = (value, size)
            self._bytes += size

    def __len__(self) -> int:
        return len(self._data)

    @property
    def size(self) -> int:
        """The sizes of the values kept, added up."""
        return self._bytes

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()
            self._bytes = 0
