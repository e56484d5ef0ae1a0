"""The gateway policy on relayed sessions: the upstream sees only what the policy allows.

Two real servers on loopback: an upstream rtagents (scripted engine, speaking
GA like the hosted API) and a relay in front of it with a policy. Forced
fields reach the upstream (its ``session.updated`` shows them, relayed down),
refused events never leave the gateway, and quotas count relayed sessions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from server_harness import TIMEOUT_S, RawClient, session, wait_following_progress
from websockets.exceptions import InvalidStatus

from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.host.backend import ReceivedEvent
from rtagents.server.host.session_host import SessionHost
from rtagents.server.policy.table import Policy
from rtagents.server.relay.upstream_settings import UpstreamSettings
from rtagents.server.serving import RunningServer, running_server

PREFIX = "Gateway: "
POLICY = Policy(
    allowed_functions=("get_weather",),
    instructions_prefix=PREFIX,
    forced_fields={"max_output_tokens": 128},
    concurrent_sessions=1,
)


class UpstreamTap:
    """What the upstream server received, by event type (an observer on its hosts)."""

    def __init__(self) -> None:
        self.received: list[Any] = []

    def observer(self, host: Any) -> UpstreamTap:
        return self

    wants_received = True

    def on_sent(self, event: Any, error: Any) -> None:
        pass

    def on_received(self, inbound: ReceivedEvent) -> None:
        if inbound.event is not None:
            self.received.append(inbound.event)

    def of_type(self, kind: str) -> list[Any]:
        return [event for event in self.received if event.type == kind]


@pytest.fixture
async def rig() -> AsyncIterator[tuple[RunningServer, UpstreamTap]]:
    tap = UpstreamTap()
    async with running_server(ServerConfig(port=0, observers=[tap.observer])) as upstream:
        settings = UpstreamSettings(url=upstream.ws_url, api_key=upstream.api_key)
        config = ServerConfig(port=0, upstream=settings, policy=POLICY)
        async with running_server(config) as relay:
            yield relay, tap


async def update(client: RawClient, fields: dict[str, Any]) -> Any:
    event = {"type": "session.update", "session": {"type": "realtime", **fields}}
    await client.send(event)
    while True:
        reply = await client.recv()
        if reply.type in ("session.updated", "error"):
            return reply


async def test_a_relayed_session_starts_with_the_forced_fields_upstream(
    rig: tuple[RunningServer, UpstreamTap],
) -> None:
    relay, tap = rig
    async with session(relay, greet=False) as client:
        created = (await client.recv()).session
    assert created.max_output_tokens == 128
    assert created.instructions.startswith(PREFIX)
    first_up = tap.of_type("session.update")[0].session  # sent before the client's greeting
    assert first_up.max_output_tokens == 128


async def test_forced_fields_reach_the_upstream_and_come_back_in_session_updated(
    rig: tuple[RunningServer, UpstreamTap],
) -> None:
    relay, tap = rig
    async with session(relay) as client:
        reply = await update(client, {"instructions": "Hello.", "max_output_tokens": 999})
        assert reply.type == "session.updated", reply
        assert reply.session.instructions == PREFIX + "Hello."
        assert reply.session.max_output_tokens == 128
    sent_up = tap.of_type("session.update")[-1].session
    assert (sent_up.instructions, sent_up.max_output_tokens) == (PREFIX + "Hello.", 128)


async def test_a_refused_event_is_answered_by_the_gateway_and_never_reaches_the_upstream(
    rig: tuple[RunningServer, UpstreamTap],
) -> None:
    relay, tap = rig
    tool = {"type": "function", "name": "transfer_funds", "parameters": {"type": "object"}}
    async with session(relay) as client:
        updates_before = len(tap.of_type("session.update"))
        error = await client.error(
            {
                "type": "session.update",
                "event_id": "evt_1",
                "session": {"type": "realtime", "tools": [tool]},
            }
        )
        assert (error.code, error.param, error.event_id) == (
            "tool_not_allowed",
            "session.tools[0].name",
            "evt_1",
        )
        reply = await update(client, {"instructions": "Still here."})  # the session goes on
        assert reply.session.instructions == PREFIX + "Still here."
    names = [[t.name for t in e.session.tools or []] for e in tap.of_type("session.update")]
    assert all("transfer_funds" not in tools for tools in names[updates_before:])


async def test_relayed_sessions_count_against_the_quota_and_give_it_back(
    rig: tuple[RunningServer, UpstreamTap],
) -> None:
    relay, _ = rig
    quotas = server_state(relay.app).gateway.quotas
    async with session(relay):
        with pytest.raises(InvalidStatus) as refused:
            async with session(relay):
                pass
        body = json.loads(refused.value.response.body)
        assert body["error"]["code"] == "concurrent_session_quota_exceeded"

    async def released() -> None:
        while quotas.open_sessions("api_key"):  # noqa: ASYNC110 - the book has no event
            await asyncio.sleep(0.01)

    await wait_following_progress(released(), TIMEOUT_S)
    async with session(relay):
        hosts: list[SessionHost] = list(server_state(relay.app).sessions)
        assert len(hosts) == 1
