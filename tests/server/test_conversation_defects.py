"""The defects issue 17 names, one targeted case each (the model-based test found them).

Each drives the real server's session host (scripted voice, :class:`WatchedLLM`
holding the reply mid-stream) through the rtagents client, over the in-memory
session pair: the socket is not what these cases are about.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conversation_model import WatchedLLM, WatchedTTS
from conversation_session import SESSION, WAIT_S, item_text
from exactness import ClientTap

from rtagents.client import Session
from rtagents.engines.base import Engines
from rtagents.engines.scripted import ScriptedSTT
from rtagents.testing import session_pair


@pytest.fixture
async def held() -> Any:
    """A server whose model can be held mid-reply, and a client session on it."""
    llm = WatchedLLM()
    engines = Engines(llm=llm, tts=WatchedTTS(llm), stt=ScriptedSTT(), name="scripted")
    async with session_pair(engines=engines, session=SESSION) as pair:
        tap = ClientTap(pair.client, keep_audio=True)
        yield pair.client, tap, llm


async def _held_reply(
    session: Session, llm: WatchedLLM, *, in_speech: bool = False
) -> tuple[Any, Any]:
    """Start an audio reply that stops after three words (or mid-clause); its item."""
    llm.arm(in_speech=in_speech)
    await session.send_text("please wait for me")
    added = asyncio.ensure_future(
        session.wait_for("conversation.item.added", predicate=lambda e: e.item.role == "assistant")
    )
    done = asyncio.ensure_future(session.wait_for("response.done", timeout=WAIT_S))
    hold = "0" if in_speech else "3"
    await session.create_response(output_modalities=["audio"], metadata={"hold": hold})
    await asyncio.wait_for(llm.started.wait(), WAIT_S)
    return (await added).item, done


async def test_a_deleted_assistant_item_stays_deleted_while_its_response_runs(held: Any) -> None:
    session, _, llm = held
    item, done = await _held_reply(session, llm)
    deleted = asyncio.ensure_future(session.wait_for("conversation.item.deleted"))
    await session.delete_item(item.id)
    await deleted
    llm.released.set()
    await done
    assert item.id not in session.conversation
    refused = asyncio.ensure_future(session.wait_for("error"))
    await session.retrieve_item(item.id)
    assert (await refused).error.code == "item_not_found"
    await session.send_text("next")
    follows = await session.wait_for("conversation.item.added")
    assert follows.previous_item_id != item.id


async def test_root_is_refused_as_an_item_id(held: Any) -> None:
    session, _, _ = held
    first = asyncio.ensure_future(session.wait_for("conversation.item.done"))
    await session.send_text("first")
    await first
    refused = asyncio.ensure_future(session.wait_for(("error", "conversation.item.done")))
    item = {"id": "root", "type": "message", "role": "user", "content": []}
    await session.create_item(item)
    answer = await refused
    assert answer.type == "error" and answer.error.param == "item.id", answer


async def test_the_client_sends_item_references_in_response_input(held: Any) -> None:
    session, _, llm = held
    first = asyncio.ensure_future(session.wait_for("conversation.item.done"))
    await session.send_text("the referenced line")
    item_id = (await first).item.id
    await session.send_text("a later line")
    done = asyncio.ensure_future(session.wait_for("response.done", timeout=WAIT_S))
    await session.create_response(
        conversation="none",
        input=[{"type": "item_reference", "id": item_id}],
        metadata={"step": "ref"},
        output_modalities=["text"],
    )
    response = (await done).response
    assert llm.requests["ref"] == [("user", "the referenced line")]
    assert item_text(response.output[0].model_dump(mode="json")) == "You said: the referenced line"


async def test_a_cancelled_reply_keeps_only_the_words_it_spoke(held: Any) -> None:
    session, tap, llm = held
    item, done = await _held_reply(session, llm, in_speech=True)
    await session.cancel_response()
    response = (await done).response
    assert response.status == "cancelled"
    said = response.output[0].content[0].transcript
    spoken = tap.spoken(item.id)
    assert spoken == "You "  # the voice stopped after its first word
    assert spoken.startswith(said), f"transcript {said!r} outlives audio {spoken!r}"
    retrieved = asyncio.ensure_future(session.wait_for("conversation.item.retrieved"))
    await session.retrieve_item(item.id)
    assert (await retrieved).item.content[0].transcript == said
    assert session.conversation.transcript(item.id) == said
