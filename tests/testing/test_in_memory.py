"""The in-memory session pair: a client Session and a server session host, no socket between."""

from __future__ import annotations

import asyncio
import re

from rtagents.engines.scripted import Rule, Say, scripted_engines
from rtagents.protocol.lifecycle import State
from rtagents.testing import session_pair

TEXT_ONLY = {"type": "realtime", "output_modalities": ["text"]}


async def test_a_text_turn_runs_through_the_real_client_and_host() -> None:
    async with session_pair(session=TEXT_ONLY) as pair:
        assert pair.client.state is State.ACTIVE
        assert pair.client.session_id == pair.host.id
        done = asyncio.create_task(pair.client.wait_for("response.done", timeout=10))
        await asyncio.sleep(0)
        await pair.client.send_text("hello there")
        await pair.client.create_response()
        response = (await done).response
        assert response.status == "completed"
        [message] = response.output
        assert "hello there" in message.content[0].text
        # Both ends hold the same conversation.
        assert pair.host.conversation.item_ids == pair.client.conversation.item_ids
    assert pair.host.transport.closed and not pair.state.sessions  # the host ended too


async def test_engines_and_the_model_reach_the_host() -> None:
    rules = [Rule(when=re.compile("ping"), then=Say("pong"))]
    async with session_pair(
        engines=scripted_engines(rules), session=TEXT_ONLY, model="m-1"
    ) as pair:
        assert pair.client.config.model == "m-1"
        done = asyncio.create_task(pair.client.wait_for("response.done", timeout=10))
        await asyncio.sleep(0)
        await pair.client.send_text("ping")
        await pair.client.create_response()
        [message] = (await done).response.output
        assert message.content[0].text == "pong"


async def test_a_dropped_link_reconnects_to_a_fresh_host() -> None:
    async with session_pair(session=TEXT_ONLY, reconnect=True) as pair:
        first = pair.host
        resumed = asyncio.create_task(pair.client.wait_for("rtagents.resumed", timeout=10))
        await asyncio.sleep(0)
        pair.drop()
        event = await resumed
        assert event.rebuilt and pair.host is not first and len(pair.hosts) == 2
        assert pair.client.session_id == pair.host.id
