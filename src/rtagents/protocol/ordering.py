"""The order of conversation items, tolerant of items that arrive early.

An item names the item it follows (``previous_item_id``). Events can arrive
before the item they point at (a resumed stream, a server that emits items of
two responses interleaved), so an item whose predecessor is unknown starts a
*detached block* keyed by that missing id. Items placed after a detached item
join its block. When the missing predecessor arrives, the whole block is
spliced in right after it, so chains that arrived backwards end up in order.

Detached blocks are listed after the placed items, oldest block first. A
block whose predecessor is deleted, or that would have to follow one of its
own members (a cycle), is attached at the end instead of waiting forever.
"""

from __future__ import annotations

from collections.abc import Iterator

ROOT = "root"
_MAIN = None  # the location key of the placed sequence


class ItemOrder:
    """Ordered item ids: the placed sequence plus blocks waiting for a predecessor."""

    __slots__ = ("_main", "_blocks", "_where")

    def __init__(self) -> None:
        self._main: list[str] = []
        # missing predecessor id -> items that follow it, in order
        self._blocks: dict[str, list[str]] = {}
        # item id -> the sequence holding it: _MAIN or the key of its block
        self._where: dict[str, str | None] = {}

    def __iter__(self) -> Iterator[str]:
        yield from self._main
        for block in self._blocks.values():
            yield from block

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._where

    @property
    def ids(self) -> list[str]:
        return list(self)

    @property
    def last(self) -> str | None:
        for block in reversed(self._blocks.values()):
            return block[-1]  # blocks are never left empty
        return self._main[-1] if self._main else None

    def previous(self, item_id: str) -> str | None:
        """The id listed before ``item_id``; ``None`` for the first or an unknown item."""
        if item_id not in self._where:
            return None
        ids = self.ids
        index = ids.index(item_id)
        return ids[index - 1] if index else None

    def waiting_for(self, item_id: str) -> str | None:
        """The unknown predecessor ``item_id`` (or its block) waits for, if any."""
        return self._where.get(item_id)

    def place(self, item_id: str, previous_item_id: str | None) -> None:
        """Insert (or move) ``item_id`` after ``previous_item_id``.

        ``None`` appends a new item and leaves a known one where it is (a
        replayed or ``.done`` event must not reorder); ``"root"`` puts it first.
        """
        if previous_item_id is None or previous_item_id == item_id:
            if item_id not in self._where:
                self._insert(item_id, _MAIN, len(self._main))
        else:
            self._detach(item_id)
            if previous_item_id == ROOT:
                self._insert(item_id, _MAIN, 0)
            elif previous_item_id in self._where:
                key = self._where[previous_item_id]
                index = self._sequence(key).index(previous_item_id) + 1
                self._insert(item_id, key, index)
            else:
                block = self._blocks.setdefault(previous_item_id, [])
                self._insert(item_id, previous_item_id, len(block))
        self._splice_block_after(item_id)

    def remove(self, item_id: str) -> bool:
        """Forget ``item_id``; a block still waiting for it is attached at the end."""
        orphans = self._blocks.pop(item_id, None)
        if orphans is not None:
            self._attach_at_end(orphans)
        return self._detach(item_id)

    def _sequence(self, key: str | None) -> list[str]:
        return self._main if key is _MAIN else self._blocks[key]

    def _insert(self, item_id: str, key: str | None, index: int) -> None:
        self._sequence(key).insert(index, item_id)
        self._where[item_id] = key

    def _detach(self, item_id: str) -> bool:
        if item_id not in self._where:
            return False
        key = self._where.pop(item_id)
        sequence = self._sequence(key)
        sequence.remove(item_id)
        if not sequence and key is not _MAIN:
            del self._blocks[key]
        return True

    def _splice_block_after(self, item_id: str) -> None:
        """Bring in the block that waited for ``item_id``, now that it is known."""
        block = self._blocks.pop(item_id, None)
        if block is None:
            return
        key = self._where[item_id]
        if key == item_id:  # the item sits in its own block: a cycle
            self._attach_at_end(block)
            return
        sequence = self._sequence(key)
        index = sequence.index(item_id) + 1
        sequence[index:index] = block
        for member in block:
            self._where[member] = key

    def _attach_at_end(self, block: list[str]) -> None:
        self._main.extend(block)
        for member in block:
            self._where[member] = _MAIN
