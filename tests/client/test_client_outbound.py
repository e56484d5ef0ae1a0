"""The send path: frames go to the live connection, the queue, or wait at the gate."""

from __future__ import annotations

import asyncio
import json

import pytest

from rtagents.client.asked import AskedConfig
from rtagents.client.connection import Connection
from rtagents.client.gate import ResponseGate
from rtagents.client.outbound import Outbound
from rtagents.client.outbox import SendQueue
from rtagents.observability.event_log import EventLog
from rtagents.protocol.codec import decode_server_event
from rtagents.protocol.conversation import Conversation
from rtagents.protocol.errors import ConnectionFailure, Origin
from rtagents.transports.memory import memory_pair

MESSAGE = {
    "type": "conversation.item.create",
    "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
}


def _outbound(
    *, resilient: bool, closed: bool = False, gate: ResponseGate | None = None
) -> Outbound:
    def refusal(event_type: str, event_id: str) -> ConnectionFailure:
        return ConnectionFailure(
            f"no {event_type}", origin=Origin.LOCAL, code="session_closed", event_id=event_id
        )

    return Outbound(
        EventLog("cs_test", side="client"),
        asked=AskedConfig(),
        gate=gate or ResponseGate(),
        queue=SendQueue(1000 if resilient else 0),
        resilient=resilient,
        is_closed=lambda: closed,
        closed_error=refusal,
    )


async def test_frames_go_to_the_live_connection_or_wait_in_the_queue() -> None:
    outbound = _outbound(resilient=True)
    assert await outbound.send(MESSAGE)
    assert outbound.queue.queued == 1  # no connection yet
    near, far = memory_pair()
    connection = Connection.fresh(near, ring_bytes=1000)
    await outbound.install(connection)
    event_id = await outbound.send({**MESSAGE, "event_id": "evt_second"})
    assert event_id == "evt_second" and connection.sent == 2
    first, second = await far.recv(), await far.recv()
    assert json.loads(first)["type"] == MESSAGE["type"]
    assert json.loads(second)["event_id"] == "evt_second"
    assert outbound.detach() is connection and not connection.live
    await outbound.send(MESSAGE)
    assert outbound.queue.queued == 1 and connection.sent == 2


async def test_without_reconnect_no_connection_means_the_send_fails() -> None:
    outbound = _outbound(resilient=False)
    with pytest.raises(ConnectionFailure, match="conversation.item.create"):
        await outbound.send(MESSAGE)
    closed = _outbound(resilient=True, closed=True)
    with pytest.raises(ConnectionFailure, match="response.create") as refused:
        await closed.send({"type": "response.create", "event_id": "evt_late"})
    assert refused.value.event_id == "evt_late" and closed.queue.queued == 0


async def test_a_held_response_create_is_sent_later_as_encoded() -> None:
    gate, mirror = ResponseGate(), Conversation()
    outbound = _outbound(resilient=True, gate=gate)
    near, far = memory_pair()
    await outbound.install(Connection.fresh(near, ring_bytes=1000))
    pump = asyncio.create_task(gate.pump(outbound.send_gated))
    try:
        await outbound.send({"type": "response.create", "event_id": "evt_1"})
        await outbound.send({"type": "response.create", "event_id": "evt_2"})  # held
        assert json.loads(await far.recv())["event_id"] == "evt_1" and gate.queued == 1
        for kind, status in (("response.created", "in_progress"), ("response.done", "completed")):
            response = {"id": "resp_1", "object": "realtime.response", "status": status}
            event = decode_server_event(
                json.dumps({"type": kind, "event_id": f"e_{kind}", "response": response})
            )
            mirror.apply(event)
            gate.observe(event, mirror)
        assert await far.recv() == '{"type":"response.create","event_id":"evt_2"}'
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
