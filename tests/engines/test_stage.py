"""The stage an engine call serves: a context variable, SPEECH unless the server sets it."""

from __future__ import annotations

import asyncio

from rtagents.engines.stage import Stage, current_stage, engine_stage


def test_the_stage_is_speech_unless_set_and_restored_after_the_block() -> None:
    assert current_stage() is Stage.SPEECH
    with engine_stage(Stage.FIRST_SPEECH):
        assert current_stage() is Stage.FIRST_SPEECH
        with engine_stage(Stage.PARTIAL):
            assert current_stage() is Stage.PARTIAL
        assert current_stage() is Stage.FIRST_SPEECH
    assert current_stage() is Stage.SPEECH


async def test_each_task_sees_the_stage_it_was_started_in() -> None:
    async def seen() -> Stage:
        await asyncio.sleep(0)
        return current_stage()

    with engine_stage(Stage.TURN_END):
        turn_end = asyncio.create_task(seen())
    speech = asyncio.create_task(seen())
    assert await turn_end is Stage.TURN_END
    assert await speech is Stage.SPEECH
