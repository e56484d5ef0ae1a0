"""A session's tasks: all stopped when it ends; the handlers drain first; crashes are logged."""

from __future__ import annotations

import asyncio
import logging

import pytest

from rtagents.client.tasks import SessionTasks


async def test_stop_cancels_every_task_and_lets_the_handlers_drain() -> None:
    tasks = SessionTasks()
    forever = tasks.spawn(asyncio.Event().wait(), "forever")
    handled: list[str] = []
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def dispatch_loop() -> None:
        while (item := await queue.get()) is not None:
            handled.append(item)

    tasks.start_handlers(dispatch_loop)
    tasks.start_handlers(dispatch_loop)  # once only
    queue.put_nowait("last event")
    queue.put_nowait(None)
    await tasks.stop(drain_timeout=5.0)
    assert forever.cancelled() and len(tasks) == 0
    assert handled == ["last event"]


async def test_handlers_that_do_not_drain_are_cancelled_after_the_timeout() -> None:
    tasks = SessionTasks()
    outcome: list[str] = []

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    tasks.start_handlers(stuck)
    await asyncio.sleep(0)  # let it start waiting
    await asyncio.wait_for(tasks.stop(drain_timeout=0.01), 5)
    assert outcome == ["cancelled"]


async def test_a_crashed_task_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    tasks = SessionTasks()

    async def crash() -> None:
        raise RuntimeError("bug")

    with caplog.at_level(logging.ERROR, logger="rtagents.client.session"):
        task = tasks.spawn(crash(), "rtagents-buggy")
        await asyncio.wait({task})
        await asyncio.sleep(0)  # done callbacks run on the next loop turn
    assert "session task rtagents-buggy failed" in caplog.text and len(tasks) == 0
