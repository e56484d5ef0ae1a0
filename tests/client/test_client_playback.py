"""Truncation at what was heard: clamped to the audio received, never without audio.

Against the real server over the in-memory session pair (no socket).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from rtagents.client import Session
from rtagents.client.playback import PLAYED_ITEMS_KEPT
from rtagents.engines.scripted import scripted_engines
from rtagents.protocol.errors import LocalProtocolError
from rtagents.testing import session_pair

AUDIO_OUT = {"type": "realtime", "output_modalities": ["audio"]}


@pytest.fixture
async def session() -> AsyncIterator[Session]:
    async with session_pair(engines=scripted_engines(vad=False), session=AUDIO_OUT) as pair:
        yield pair.client


async def _spoken_reply(session: Session) -> str:
    done = asyncio.create_task(session.wait_for("response.done", timeout=10))
    await asyncio.sleep(0)
    await session.send_text("tell me a story")
    await session.create_response()
    item_id: str = (await done).response.output[0].id
    return item_id


async def test_truncate_cuts_at_the_played_position(session: Session) -> None:
    item_id = await _spoken_reply(session)
    assert session.playback.current_item_id == item_id
    session.playback.played(item_id, 200)
    assert session.playback.played(item_id, 100.5) == 300.5
    cut = asyncio.create_task(session.wait_for("conversation.item.truncated", timeout=5))
    await asyncio.sleep(0)
    assert await session.playback.truncate() is not None
    assert (await cut).audio_end_ms == 300


async def test_playback_beyond_the_audio_received_is_clamped(session: Session) -> None:
    item_id = await _spoken_reply(session)
    received = session.conversation.audio_ms(item_id)
    session.playback.played(item_id, received + 5000)
    assert session.playback.heard_ms(item_id) == int(received)
    cut = asyncio.create_task(session.wait_for(("conversation.item.truncated", "error"), timeout=5))
    await asyncio.sleep(0)
    await session.playback.truncate(item_id, audio_end_ms=10**9)
    truncated = await cut
    assert truncated.type == "conversation.item.truncated"  # the server accepted it
    assert truncated.audio_end_ms == int(received)


async def test_an_item_without_audio_is_never_truncated(session: Session) -> None:
    await session.send_text("no audio here")
    user_item = await session.wait_for("conversation.item.done", timeout=5)
    assert await session.playback.truncate(user_item.item.id, 100) is None
    assert await session.playback.truncate() is None  # nothing played yet at all
    assert session.errors == []


def test_nonsense_playback_positions_are_refused() -> None:
    tracker = Session("ws://127.0.0.1:1/v1/realtime", credentials="k").playback
    for bad in (-1, float("nan"), True, "5"):
        with pytest.raises(LocalProtocolError):
            tracker.played("item_1", bad)  # type: ignore[arg-type]


def test_played_positions_are_kept_for_recent_items_only() -> None:
    tracker = Session("ws://127.0.0.1:1/v1/realtime", credentials="k").playback
    for number in range(PLAYED_ITEMS_KEPT + 50):
        tracker.played(f"item_{number}", 10)
    assert len(tracker._played) == PLAYED_ITEMS_KEPT
    assert "item_0" not in tracker._played
    assert tracker.played(f"item_{PLAYED_ITEMS_KEPT + 49}", 5) == 15
