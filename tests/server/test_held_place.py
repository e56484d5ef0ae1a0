"""A held place goes back once: by release, on leaving its block, or when its event is set."""

from __future__ import annotations

import asyncio

from rtagents.server.held_place import HeldPlace


class Place(HeldPlace):
    def __init__(self, pool: list[int], watchers: set[asyncio.Task[None]]) -> None:
        super().__init__(watchers)
        self.pool = pool
        self.held = True
        pool[0] -= 1

    @property
    def holding(self) -> bool:
        return self.held

    def release(self) -> None:
        if self.held:
            self.held = False
            self.pool[0] += 1


async def test_a_place_goes_back_once_whatever_gives_it_back() -> None:
    pool, watchers = [2], set[asyncio.Task[None]]()
    with Place(pool, watchers) as place:
        assert pool == [1]
        place.release()
    assert pool == [2]  # released, then the block's end: one place back, not two
    ended = asyncio.Event()
    later = Place(pool, watchers)
    later.release_when(ended)
    assert pool == [1] and len(watchers) == 1
    ended.set()
    await asyncio.gather(*watchers)
    assert pool == [2] and not later.holding
    later.release_when(asyncio.Event())  # not held: nothing to wait for
    assert not watchers
