"""Model-based test of the conversation: random GA event sequences, a reference model, every step.

A hypothesis state machine sends random valid (and some invalid) client
events through the rtagents client to the real server (scripted model) and,
after every step, compares four views with the reference model in
:mod:`conversation_model`: the order the server announced
(``previous_item_id``), what ``conversation.item.retrieve`` returns, the
history the model was given (recorded by the engine), and the client's
mirror, plus the server's own state and exact delivery (see
:mod:`exactness`, checked by :mod:`conversation_session`). One server
serves every sequence; each sequence opens its own session.
``RTAGENTS_SOAK=1`` runs thousands of sequences.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import conversation_session
import pytest
from conversation_model import Entry, expected_reply, history_of
from conversation_session import TALLY, WAIT_S, Live, SessionSteps, item_text
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from rtagents.engines.scripted import MS_PER_CHAR, scripted_speech

SOAK = os.environ.get("RTAGENTS_SOAK") == "1"


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    server = Live()
    yield server
    server.close()


class ConversationMachine(SessionSteps):
    """Random steps against the server; the reference model says what must follow."""

    # --- creating, deleting, retrieving -----------------------------------------------

    @rule(
        role=st.sampled_from(["user", "user", "system", "assistant"]),
        where=st.sampled_from(["end", "null", "root", "after", "missing"]),
        index=st.integers(0, 50),
    )
    def create(self, role: str, where: str, index: int) -> None:
        text = self.fresh()
        part = "output_text" if role == "assistant" else "input_text"
        item = {"type": "message", "role": role, "content": [{"type": part, "text": text}]}
        event: dict[str, Any] = {"type": "conversation.item.create", "item": item}
        previous: str | None = None
        if where == "null":
            event["previous_item_id"] = None
        elif where == "root":
            previous = event["previous_item_id"] = "root"
        elif where == "after" and self.model.entries:
            previous = self.model.ids[index % len(self.model.entries)]
            event["previous_item_id"] = previous
        elif where == "missing":
            event["previous_item_id"] = "item_missing"
            self.run(self.refused(event, "item_not_found"))
            return
        done = self.run(self.request(event, ("conversation.item.done",)))
        assert done.type == "conversation.item.done", done
        entry = Entry(id=done.item.id, type="message", role=role, text=text)
        self.model.insert(entry, previous)

    @rule(kind=st.sampled_from(["fresh", "duplicate", "root"]))
    def create_with_id(self, kind: str) -> None:
        if kind == "duplicate" and not self.model.entries:
            return
        text = self.fresh()
        item_id = {"fresh": f"item_mine_{self.serial}", "root": "root"}.get(kind)
        item_id = item_id or self.model.ids[-1]
        item = {
            "id": item_id,
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
        event = {"type": "conversation.item.create", "item": item}
        answer = self.run(self.request(event, ("conversation.item.done",)))
        if kind != "fresh":
            assert answer.type == "error" and answer.error.param == "item.id", answer
            return
        assert answer.type == "conversation.item.done" and answer.item.id == item_id, answer
        self.model.insert(Entry(item_id, "message", "user", text), None)

    @precondition(lambda self: self.model.entries)
    @rule(index=st.integers(0, 50))
    def delete(self, index: int) -> None:
        item_id = self.model.ids[index % len(self.model.entries)]
        event = {"type": "conversation.item.delete", "item_id": item_id}
        answer = self.run(self.request(event, ("conversation.item.deleted",)))
        assert answer.type == "conversation.item.deleted" and answer.item_id == item_id, answer
        self.model.delete(item_id)

    @rule(kind=st.sampled_from(["delete", "retrieve", "truncate"]))
    def missing_item(self, kind: str) -> None:
        event: dict[str, Any] = {"type": f"conversation.item.{kind}", "item_id": "item_gone"}
        if kind == "truncate":
            event.update(content_index=0, audio_end_ms=0)
        self.run(self.refused(event, "item_not_found"))

    # --- responses ------------------------------------------------------------------

    @rule(
        audio=st.booleans(),
        band=st.sampled_from(["auto", "auto", "none"]),
        custom=st.none() | st.lists(st.integers(-1, 50), min_size=1, max_size=3),
    )
    def respond(self, audio: bool, band: str, custom: list[int] | None) -> None:
        """A response; ``custom`` picks ``input``: -1 an inline user line, n an item reference."""
        params: dict[str, Any] = {"output_modalities": ["audio" if audio else "text"]}
        history = self.model.history()
        if band == "none":
            params["conversation"] = "none"
        if custom is not None:
            params["input"], history = self.custom_input(custom)
        params["_history"] = history
        response = self.run(self.respond_with(params))
        assert response.status == "completed", response.status_details
        assert len(response.output) == 1, response.output
        item = response.output[0]
        reply = expected_reply(history)
        assert item_text(item.model_dump(mode="json")) == reply
        if band == "auto":
            produced = len(reply) * MS_PER_CHAR if audio else 0.0
            self.model.entries.append(Entry(item.id, "message", "assistant", reply, produced))
        else:  # out of band: its item never joins the conversation
            event = {"type": "conversation.item.retrieve", "item_id": item.id}
            self.run(self.refused(event, "item_not_found"))

    def custom_input(self, picks: list[int]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        entries, wire = [], []
        for pick in picks:
            if pick < 0 or not self.model.entries:
                text = self.fresh()
                entries.append(Entry("", "message", "user", text))
                content = [{"type": "input_text", "text": text}]
                wire.append({"type": "message", "role": "user", "content": content})
            else:
                entry = self.model.entries[pick % len(self.model.entries)]
                entries.append(entry)
                wire.append({"type": "item_reference", "id": entry.id})
        return wire, history_of(entries)

    async def respond_with(self, params: dict[str, Any]) -> Any:
        """Create a response tagged with this step; check the history it got; its resource."""
        step = str(self.serial)
        self.serial += 1
        params["metadata"] = {"step": step, **params.get("metadata", {})}
        history = params.pop("_history")
        done = asyncio.ensure_future(
            self.session.wait_for(
                "response.done",
                predicate=lambda e: (e.response.metadata or {}).get("step") == step,
                timeout=WAIT_S,
            )
        )
        await asyncio.sleep(0)
        await self.session.create_response(**params)
        response = (await done).response
        given = self.live.llm.requests.pop(step, None)
        assert given == history, "the history the model was given"
        return response

    @precondition(lambda self: any(e.audio_ms for e in self.model.entries))
    @rule(index=st.integers(0, 50), share=st.floats(0, 1), beyond=st.booleans())
    def truncate(self, index: int, share: float, beyond: bool) -> None:
        audible = [e for e in self.model.entries if e.audio_ms]
        entry = audible[index % len(audible)]
        end_ms = int(entry.audio_ms) + 1 if beyond else int(share * entry.audio_ms)
        event = {
            "type": "conversation.item.truncate",
            "item_id": entry.id,
            "content_index": 0,
            "audio_end_ms": end_ms,
        }
        if beyond:
            self.run(self.refused(event, "invalid_value"))
            return
        answer = self.run(self.request(event, ("conversation.item.truncated",)))
        assert answer.type == "conversation.item.truncated", answer
        kept = self.session.conversation.transcript(entry.id)
        assert entry.text.startswith(kept), (entry.text, kept)  # the unheard end is dropped
        entry.text = kept

    @rule()
    def cancel_when_idle(self) -> None:
        self.run(self.refused({"type": "response.cancel"}, "response_cancel_not_active"))

    @rule(band=st.sampled_from(["auto", "none"]), words=st.integers(0, 3))
    def cancel_while_streaming(self, band: str, words: int) -> None:
        """Cancel an audio response after a few words (0: mid-clause): it ends ``cancelled``."""
        response = self.run(self._cancel_midway(band, words))
        assert response.status == "cancelled", response.status
        reply = expected_reply(self.model.history())
        for item in response.output:
            said = item.content[0].transcript or ""
            assert reply.startswith(said), (reply, said)
            # Never a word the audio did not speak (the server may keep fewer:
            # it estimates the cut conservatively, see server/local/spoken_text.py).
            spoken = self.tap.spoken(item.id)
            assert spoken.startswith(said), f"transcript {said!r} outlives audio {spoken!r}"
            if band == "auto":
                audio_ms = self.session.conversation.audio_ms(item.id)
                self.model.entries.append(Entry(item.id, "message", "assistant", said, audio_ms))

    async def _cancel_midway(self, band: str, words: int) -> Any:
        llm = self.live.llm
        llm.arm(in_speech=words == 0)
        params: dict[str, Any] = {"output_modalities": ["audio"], "metadata": {"hold": str(words)}}
        params["_history"] = self.model.history()
        if band == "none":
            params["conversation"] = "none"
        created = asyncio.ensure_future(self.session.wait_for("response.created", timeout=WAIT_S))
        responding = asyncio.ensure_future(self.respond_with(params))
        response_id = (await created).response.id
        await asyncio.wait_for(llm.started.wait(), WAIT_S)
        await self.session.cancel_response(response_id)
        response = await responding
        emitted = self.live.server_tap.emitted[self.host]
        await self.tap.caught_up(len(emitted))
        return response

    @rule()
    def delete_while_streaming(self) -> None:
        """Delete the reply's item after it was added, while the reply still streams."""
        response = self.run(self._delete_midway())
        assert response.status == "completed", response.status_details

    async def _delete_midway(self) -> Any:
        llm = self.live.llm
        llm.arm()
        added = asyncio.ensure_future(
            self.session.wait_for(
                "conversation.item.added",
                predicate=lambda e: e.item.role == "assistant",
                timeout=WAIT_S,
            )
        )
        params: dict[str, Any] = {"output_modalities": ["audio"], "metadata": {"hold": "2"}}
        params["_history"] = self.model.history()
        responding = asyncio.ensure_future(self.respond_with(params))
        item = (await added).item
        await asyncio.wait_for(llm.started.wait(), WAIT_S)
        answer = await self.request(
            {"type": "conversation.item.delete", "item_id": item.id}, ("conversation.item.deleted",)
        )
        assert answer.type == "conversation.item.deleted", answer
        llm.released.set()
        return await responding

    # --- input audio ----------------------------------------------------------------

    @rule(empty=st.booleans())
    def commit_speech(self, empty: bool) -> None:
        """Push-to-talk: append tone-coded speech, commit; the user item holds what was said."""
        if empty:
            self.run(
                self.refused(
                    {"type": "input_audio_buffer.commit"}, "input_audio_buffer_commit_empty"
                )
            )
            return
        text = self.fresh()
        item_id = self.run(self._say(text))
        self.model.entries.append(Entry(item_id, "message", "user", text))

    async def _say(self, text: str) -> str:
        heard = asyncio.ensure_future(
            self.session.wait_for(
                "conversation.item.input_audio_transcription.completed", timeout=WAIT_S
            )
        )
        await self.session.append_audio(scripted_speech(text))
        await self.session.commit_audio()
        completed = await heard
        assert completed.transcript == text, completed
        return str(completed.item_id)


settings_for_run = settings(
    max_examples=3000 if SOAK else 300,
    stateful_step_count=30 if SOAK else 20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.timeout(7200 if SOAK else 300)
def test_the_conversation_follows_the_reference_model(live: Live) -> None:
    conversation_session.LIVE = live
    try:
        settings_for_run(ConversationMachine).TestCase().runTest()
    finally:
        conversation_session.LIVE = None
    print(f"\nmodel-based: {TALLY['sequences']} sequences, {TALLY['checks']} checks")
