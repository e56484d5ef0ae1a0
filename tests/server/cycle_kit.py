"""Checks that an ended session is freed by reference counting alone (no collection).

A session whose objects sit in reference cycles is freed only by a full
collection, and a full collection stops every session of the process (tens of
ms per hundred live sessions; docs/benchmarks.md, "A new machine"). These
helpers run a test with the collector off, wait for a session's host to end,
and list the server's objects that only a collection could free.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def only_host(sessions: Any) -> weakref.ref[Any]:
    """A weak reference to the one live session host in ``sessions``."""
    [live] = sessions
    return weakref.ref(live)


def cyclic_server_objects() -> list[str]:
    """Types of the server's objects that only a collection could free."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    found = {type(o) for o in gc.garbage}
    gc.set_debug(0)
    gc.garbage.clear()
    return sorted(
        f"{kind.__module__}.{kind.__qualname__}"
        for kind in found
        if kind.__module__.startswith("rtagents.server")
    )


async def ended_and_freed(host: weakref.ref[Any]) -> tuple[bool, list[str]]:
    """Whether the host is still held once its session ended (before any collection),
    and which of the server's objects sit in cycles."""
    live = host()
    if live is not None:
        await asyncio.wait_for(live.wait_closed(), 10)
    del live
    for _ in range(30):  # the connection's handler and the session's tasks wind down
        await asyncio.sleep(0.01)
    held = host() is not None
    return held, cyclic_server_objects()
