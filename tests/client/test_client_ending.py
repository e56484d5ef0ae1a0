"""A session ends once, for every waiter, and late sends learn why."""

from __future__ import annotations

import asyncio

import pytest

from rtagents.client.ending import Ending
from rtagents.client.inbound import Inbound
from rtagents.observability.event_log import EventLog
from rtagents.protocol.errors import ConnectionFailure, Origin


def _ending() -> tuple[Ending, Inbound, list[str]]:
    inbound = Inbound(EventLog("cs_test", side="client"))
    ended: list[str] = []
    return Ending(inbound, on_end=lambda: ended.append("end")), inbound, ended


async def test_finishing_wakes_every_waiter_once_with_the_close_it_saw_first() -> None:
    ending, inbound, ended = _ending()
    waiter = inbound.waiters.add(frozenset({"response.done"}), None)
    ending.record_close(1001, "session cap reached")
    ending.record_close(1000, "")  # a later close does not overwrite the first
    ending.finish("the session closed")
    ending.finish("again")  # already over: nothing happens twice
    assert ending.finished and ended == ["end"]
    with pytest.raises(ConnectionFailure, match=r"the session closed \(code 1001: session cap"):
        await waiter
    await asyncio.wait_for(ending.wait(), 1)


def test_a_late_send_is_told_the_state_and_the_close_or_the_failure() -> None:
    ending, _, _ = _ending()
    ending.record_close(1000, "bye")
    refused = ending.refusal("response.create", "evt_1", "closed")
    assert refused.code == "session_closed" and refused.event_id == "evt_1"
    assert "cannot send 'response.create': the session is closed (code 1000: bye)" in str(refused)
    failure = ConnectionFailure("gave up", origin=Origin.REMOTE, code="reconnect_failed")
    ending.failure = failure
    assert ending.refusal("response.create", "evt_2", "failed") is failure
