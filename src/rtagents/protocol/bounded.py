"""Insertion-ordered maps that forget their oldest entries past a limit.

State keyed by something a long session keeps making (event, item, response,
call ids) must not grow with the session. Where only recent keys matter (a
replay comes soon after its original, a barge-in cuts the audio playing
now), such a map keeps the newest ``limit`` keys and drops the oldest.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class RecentDict(dict[K, V]):
    """A dict holding at most ``limit`` keys; adding one more forgets the oldest.

    Only ``d[key] = value`` evicts (``setdefault`` and ``update`` are not
    used on it); assigning a key already present keeps its place.
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a RecentDict needs a limit >= 1, got {limit}")
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        fresh = key not in self
        super().__setitem__(key, value)
        if fresh and len(self) > self.limit:
            del self[next(iter(self))]
