"""The write-ahead log's batching: a client frame's effects and its count land together.

The Lua call is replaced here by a recorder the test releases, because what
is pinned is an ordering inside one event loop (which batch a frame joins),
which a real Redis round trip cannot be made to hit on purpose; the script
itself runs against a real Redis in test_redis_resume.py and the kill tests.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rtagents.server.stores.redis_resume_log import SharedFrameLog


class Recorder:
    """Stands in for the append script: records (handled, frame numbers), then waits."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, list[int]]] = []
        self.release = asyncio.Event()

    async def __call__(self, *, keys: list[str], args: list[Any]) -> int:
        self.batches.append((int(args[1]), [int(seq) for seq in args[4::2]]))
        await self.release.wait()
        self.release.clear()
        return 1


def _log(recorder: Recorder, reading: list[int]) -> SharedFrameLog:
    return SharedFrameLog(
        None,  # type: ignore[arg-type]  (the recorder never touches it)
        recorder,
        session_key="s",
        stream_key="l",
        node_id="n",
        max_frames=100,
        ttl_s=60,
        reading=lambda: reading[0],
    )


async def test_a_response_started_by_a_handled_frame_lands_with_its_count() -> None:
    recorder = Recorder()
    reading = [0]
    log = _log(recorder, reading)
    log.start(None)
    log.append(1, "session.created")
    await asyncio.sleep(0.01)
    assert recorder.batches == [(0, [1])]  # in flight, held by the recorder

    # The flush returns while the next client frame (response.create) is handled: the
    # handler spawns the response, whose first step emits response.created.
    recorder.release.set()
    reading[0] = 1
    log.append(2, "conversation.item.added")  # emitted while handling the frame

    async def response() -> None:
        log.append(3, "response.created")

    spawned = asyncio.ensure_future(response())
    log.frame_handled()
    await spawned
    await asyncio.sleep(0.01)
    assert recorder.batches[1] == (1, [2, 3])  # the count and both effects, one batch
    recorder.release.set()
    assert await log.durable(3)
    assert log.received == 1
    await log.stop()


async def test_no_batch_is_cut_while_a_frame_is_being_handled() -> None:
    recorder = Recorder()
    recorder.release.set()
    reading = [1]  # a frame was read and is being handled
    log = _log(recorder, reading)
    log.start(None)
    log.append(1, "conversation.item.added")
    await asyncio.sleep(0.01)
    assert recorder.batches == []  # held: its count is not known yet
    log.frame_handled()
    assert await log.durable(1)
    assert recorder.batches == [(1, [1])]
    await log.stop()


async def test_a_node_that_lost_the_session_sends_nothing_more() -> None:
    async def not_owner(*, keys: list[str], args: list[Any]) -> int:
        return 0

    log = _log(not_owner, [0])  # type: ignore[arg-type]
    log.start(None)
    log.append(1, "response.output_audio.delta")
    assert await log.durable(1) is False
    assert log.lost
    log.append(2, "more")  # ignored
    await log.stop()
