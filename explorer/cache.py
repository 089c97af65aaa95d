"""A thread-safe least-recently-used cache bounded by the total size of its values in bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["ByteBudgetLRU"]

Value = TypeVar("Value")


class ByteBudgetLRU(Generic[Value]):
    """Keeps values while their summed ``size_of`` stays within ``budget_bytes``.

    Inserting evicts the least recently used entries until the new value fits. A value larger
    than the whole budget is returned to the caller but not kept.
    """

    def __init__(self, budget_bytes: int, size_of: Callable[[Value], int]) -> None:
        if budget_bytes < 0:
            raise ValueError(f"budget_bytes must be non-negative, got {budget_bytes}")
        self.budget_bytes = budget_bytes
        self._size_of = size_of
        self._entries: OrderedDict[Hashable, tuple[Value, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Value | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, value: Value) -> None:
        size = self._size_of(value)
        with self._lock:
            if key in self._entries:
                self._used -= self._entries.pop(key)[1]
            if size > self.budget_bytes:
                return
            while self._used + size > self.budget_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._used -= evicted
            self._entries[key] = (value, size)
            self._used += size

    def discard(self, key: Hashable) -> None:
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._used -= entry[1]

    @property
    def used_bytes(self) -> int:
        return self._used

    def __len__(self) -> int:
        return len(self._entries)
