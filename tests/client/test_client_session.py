"""Property tests of the client session core: any stream of server frames, never a crash.

Random sequences of server events (valid, malformed, unknown, and replays of
earlier frames) go through the same path the reader uses (decode, ingest, the
observers: response gate, tool runner, playback). Nothing may raise, the
mirror stays self-consistent, and replaying the whole stream changes nothing.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtagents.client import Session
from rtagents.protocol.codec import decode_server_event

ITEM_IDS = ["item_a", "item_b", "item_c"]
RESPONSE_IDS = ["resp_1", "resp_2"]
item_id = st.sampled_from(ITEM_IDS)
response_id = st.sampled_from(RESPONSE_IDS)


def _message(iid: str, role: str) -> dict[str, Any]:
    part = "input_text" if role == "user" else "output_text"
    return {"id": iid, "type": "message", "role": role, "content": [{"type": part, "text": "t"}]}


def _response(rid: str, status: str) -> dict[str, Any]:
    return {"id": rid, "object": "realtime.response", "status": status}


valid = st.one_of(
    st.builds(
        lambda i, r, p: {
            "type": "conversation.item.added",
            "item": _message(i, r),
            "previous_item_id": p,
        },
        item_id,
        st.sampled_from(["user", "assistant"]),
        st.one_of(st.none(), item_id, st.just("root")),
    ),
    st.builds(
        lambda r: {"type": "response.created", "response": _response(r, "in_progress")}, response_id
    ),
    st.builds(
        lambda r, s: {"type": "response.done", "response": _response(r, s)},
        response_id,
        st.sampled_from(["completed", "cancelled", "failed"]),
    ),
    st.builds(
        lambda r, i: {
            "type": "response.output_item.added",
            "response_id": r,
            "output_index": 0,
            "item": _message(i, "assistant"),
        },
        response_id,
        item_id,
    ),
    st.builds(
        lambda r, i, d: {
            "type": "response.output_text.delta",
            "response_id": r,
            "item_id": i,
            "output_index": 0,
            "content_index": 0,
            "delta": d,
        },
        response_id,
        item_id,
        st.text(max_size=5),
    ),
    st.builds(
        lambda r, i, n: {
            "type": "response.output_audio.delta",
            "response_id": r,
            "item_id": i,
            "output_index": 0,
            "content_index": 0,
            "delta": "AAAA" * n,
        },
        response_id,
        item_id,
        st.integers(0, 50),
    ),
    st.builds(
        lambda r, i, c: {
            "type": "response.function_call_arguments.done",
            "response_id": r,
            "item_id": i,
            "output_index": 0,
            "call_id": c,
            "name": "echo",
            "arguments": "{}",
        },
        response_id,
        item_id,
        st.sampled_from(["call_1", "call_2"]),
    ),
    st.builds(lambda i: {"type": "conversation.item.deleted", "item_id": i}, item_id),
    st.builds(
        lambda i, ms: {
            "type": "conversation.item.truncated",
            "item_id": i,
            "content_index": 0,
            "audio_end_ms": ms,
        },
        item_id,
        st.integers(0, 5000),
    ),
    st.just(
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "item_a"}
    ),
    st.just({"type": "error", "error": {"type": "invalid_request_error", "message": "no"}}),
)
broken = st.one_of(
    st.builds(
        lambda t: {"type": t},
        st.sampled_from(
            ["response.done", "conversation.item.added", "response.output_audio.delta", "error"]
        ),
    ),
    st.builds(lambda t: {"type": t, "x": 1}, st.text(max_size=12)),
    st.just({"no_type": True}),
)


@st.composite
def frames(draw: st.DrawFn) -> list[str]:
    out: list[str] = []
    for n in range(draw(st.integers(0, 30))):
        choice = draw(st.sampled_from(["valid", "valid", "valid", "broken", "raw", "replay"]))
        if choice == "replay" and out:
            out.append(draw(st.sampled_from(out)))
        elif choice == "raw":
            out.append(draw(st.sampled_from(["", "{", "null", "[]", '"x"', "{}"])))
        else:
            event = draw(valid if choice == "valid" else broken)
            out.append(json.dumps({**event, "event_id": f"event_{n}"}))
    return out


def _snapshot(session: Session) -> Any:
    mirror = session.conversation
    return (
        [item.model_dump() for item in mirror.items],
        {i: mirror.audio_ms(i) for i in mirror.item_ids},
        {rid: r.status for rid, r in mirror.responses.items()},
    )


async def _feed(raw_frames: list[str], rounds: int) -> list[Any]:
    session = Session("ws://127.0.0.1:1/v1/realtime", credentials="k")
    session.tools.register(lambda: "ok", name="echo")
    snapshots = []
    for _ in range(rounds):
        for raw in raw_frames:
            session._inbound.ingest(decode_server_event(raw))
        snapshots.append(_snapshot(session))
        ids = session.conversation.item_ids
        assert len(ids) == len(set(ids)) == len(session.conversation)
        assert {item.id for item in session.conversation.items} <= set(ids)
        assert set(session.tools.runs.values()) <= {1}
        assert session._gate.busy in (True, False)
    await asyncio.sleep(0)
    await session.close()
    return snapshots


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_any_frames_never_crash_the_core_and_replays_change_nothing(raw: list[str]) -> None:
    first, second = asyncio.run(_feed(raw, rounds=2))
    assert first == second
