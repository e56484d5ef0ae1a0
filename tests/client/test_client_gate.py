"""The response gate: one in-conversation ``response.create`` in flight at a time."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from rtagents.client.gate import ACTIVE_RESPONSE, ResponseGate
from rtagents.client.outgoing import Outgoing, encode_checked
from rtagents.protocol.codec import decode_server_event
from rtagents.protocol.conversation import Conversation

_EVENT_IDS = itertools.count(1)


def _event(data: dict[str, Any]) -> object:
    # A counter, not id(data): a freed dict's address comes back, and the mirror
    # drops an event whose event_id it has seen as a replay.
    return decode_server_event(json.dumps({"event_id": f"e_{next(_EVENT_IDS)}", **data}))


def _created(response_id: str, *, out_of_band: bool = False) -> object:
    response: dict[str, Any] = {"id": response_id, "object": "realtime.response"}
    response["status"] = "in_progress"
    if out_of_band:
        response["conversation_id"] = None
    return _event({"type": "response.created", "response": response})


def _done(response_id: str) -> object:
    response = {"id": response_id, "object": "realtime.response", "status": "completed"}
    return _event({"type": "response.done", "response": response})


def _feed(gate: ResponseGate, mirror: Conversation, event: object) -> None:
    mirror.apply(event)
    gate.observe(event, mirror)


async def _settle() -> None:
    for _ in range(10):  # let the pump wake up and send
        await asyncio.sleep(0)


def _create(n: int, **response: Any) -> Outgoing:
    event: dict[str, Any] = {"type": "response.create", "event_id": f"evt_{n}"}
    if response:
        event["response"] = response
    return encode_checked(event)


async def test_the_second_create_waits_for_the_first_response_to_finish() -> None:
    gate, mirror = ResponseGate(), Conversation()
    sent: list[str] = []

    async def send(event: Outgoing) -> None:
        sent.append(event.event_id)

    pump = asyncio.create_task(gate.pump(send))
    try:
        assert gate.try_claim(_create(1))
        assert not gate.try_claim(_create(2)) and not gate.try_claim(_create(3))
        assert gate.busy and gate.queued == 2
        _feed(gate, mirror, _created("resp_1"))
        await _settle()
        assert sent == []  # resp_1 is still active
        _feed(gate, mirror, _done("resp_1"))
        await _settle()
        assert sent == ["evt_2"] and gate.queued == 1
        _feed(gate, mirror, _created("resp_2"))
        _feed(gate, mirror, _done("resp_2"))
        await _settle()
        assert sent == ["evt_2", "evt_3"]
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)


def test_out_of_band_requests_pass_beside_the_active_one() -> None:
    gate, mirror = ResponseGate(), Conversation()
    assert gate.try_claim(_create(1))
    assert gate.try_claim(_create(2, conversation="none"))
    _feed(gate, mirror, _created("resp_oob", out_of_band=True))
    assert gate.busy  # evt_1 is still waiting for its response.created
    _feed(gate, mirror, _created("resp_1"))
    _feed(gate, mirror, _done("resp_1"))
    assert not gate.busy  # the out-of-band response never held the gate


def test_a_response_the_server_started_itself_holds_the_gate() -> None:
    gate, mirror = ResponseGate(), Conversation()
    _feed(gate, mirror, _created("resp_vad"))  # server VAD
    assert gate.busy and not gate.try_claim(_create(1))
    _feed(gate, mirror, _done("resp_vad"))
    assert not gate.busy


def test_a_refused_create_frees_the_gate_and_a_collision_is_retried() -> None:
    gate, mirror = ResponseGate(), Conversation()
    assert gate.try_claim(_create(1))
    error = {"type": "invalid_request_error", "code": "bad", "message": "no", "event_id": "evt_1"}
    _feed(gate, mirror, _event({"type": "error", "error": error}))
    assert not gate.busy and gate.queued == 0
    assert gate.try_claim(_create(2))
    collision = {**error, "code": ACTIVE_RESPONSE, "event_id": "evt_2"}
    _feed(gate, mirror, _event({"type": "error", "error": collision}))
    assert gate.queued == 1  # asked again once the active response is done


def test_reset_forgets_what_was_active_on_the_old_server_session() -> None:
    gate, mirror = ResponseGate(), Conversation()
    _feed(gate, mirror, _created("resp_1"))
    gate.try_claim(_create(1))
    gate.reset()
    assert not gate.busy and gate.queued == 1
    assert gate.drop_queue()[0].event_id == "evt_1" and gate.queued == 0


def test_a_create_the_server_never_answers_stops_holding_the_gate() -> None:
    gate = ResponseGate(claim_timeout=0.0)
    assert gate.try_claim(_create(1))
    assert not gate.busy  # expired at once with a zero timeout
    assert gate.try_claim(_create(2))


def test_a_create_that_failed_to_send_is_released_at_once() -> None:
    gate = ResponseGate(claim_timeout=60.0)
    assert gate.try_claim(_create(1))
    gate.release("evt_2")  # not ours: nothing changes
    assert gate.busy
    gate.release("evt_1")
    assert not gate.busy and gate.try_claim(_create(2))
