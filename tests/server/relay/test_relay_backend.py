"""A session through the relay is the upstream's session: same conversation, same ids."""

from __future__ import annotations

from typing import Any

import pytest
from relay_harness import RelayRig, relay_rig
from server_harness import RawClient, session, types

from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import Limits
from rtagents.server.local.pipeline import LocalBackend
from rtagents.server.relay.relay_backend import RelayBackend
from rtagents.server.serving import RunningServer
from rtagents.transports.websocket import WebSocketTransport

TEXT_ONLY = {
    "type": "session.update",
    "session": {"type": "realtime", "output_modalities": ["text"]},
}


async def _text_turn(client: RawClient) -> tuple[list[str], Any]:
    updated = await client.roundtrip(TEXT_ONLY, "session.updated")
    assert updated.session.output_modalities == ["text"]
    await client.user_text("hello relay")
    events = await client.respond()
    done = next(e for e in events if e.type == "response.done")
    return types(events), done.response


async def _direct(server: RunningServer) -> tuple[list[str], Any]:
    async with session(server) as client:
        return await _text_turn(client)


async def test_a_text_turn_through_the_relay_matches_a_direct_one() -> None:
    async with relay_rig() as rig:
        direct_types, direct = await _direct(rig.upstream)
        async with session(rig.relay) as client:
            relayed_types, relayed = await _text_turn(client)
            _same_conversation(rig)
    assert relayed_types == direct_types
    assert relayed.status == direct.status == "completed"
    assert relayed.output[0].content[0].text == direct.output[0].content[0].text


def _same_conversation(rig: RelayRig) -> None:
    """The relay's mirror holds the upstream session's items, with the upstream's ids."""
    (relayed,) = rig.relay_hosts()
    upstream = [h for h in rig.upstream_hosts() if len(h.conversation)]
    assert len(upstream) == 1
    assert relayed.conversation.item_ids == upstream[0].conversation.item_ids
    assert len(relayed.conversation.item_ids) == 2


async def test_the_downstream_session_keeps_its_own_id_and_cap() -> None:
    async with relay_rig() as rig, session(rig.relay, greet=False) as client:
        created = await client.recv()
        assert created.type == "session.created"
        (host,) = rig.relay_hosts()
        assert created.session.id == host.id
        assert created.session.expires_at == host.expires_at
        assert (await client.recv()).type == "conversation.created"
        updated = await client.roundtrip(TEXT_ONLY, "session.updated")
        assert updated.session.id == host.id


async def test_an_upstream_refusal_reaches_the_client_with_its_event_id() -> None:
    """The host's rules accept a truncate of a known item; the upstream refuses a user one,
    and the client reads the same error as it would directly, counted by its category."""
    async with relay_rig() as rig:
        async with session(rig.upstream) as direct:
            direct_error = await _refused_truncate(direct)
        async with session(rig.relay) as client:
            error = await _refused_truncate(client)
        exposition = rig.relay.config.metrics.exposition().decode()
    assert error.event_id == "evt_truncate_1"
    assert (error.code, error.param) == (direct_error.code, direct_error.param)
    # The same words (each names its own item id).
    assert error.message.split("'")[0] == direct_error.message.split("'")[0]
    assert f'rtagents_errors_total{{category="protocol",code="{error.code}"}} 1.0' in exposition


async def _refused_truncate(client: RawClient) -> Any:
    item_id = await client.user_text("no audio here")
    truncate = {
        "type": "conversation.item.truncate",
        "event_id": "evt_truncate_1",
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": 0,
    }
    return await client.error(truncate)


async def test_the_hosts_limits_refuse_before_anything_goes_upstream() -> None:
    config = ServerConfig(port=0, limits=Limits(instructions_bytes=100))
    async with relay_rig(relay_config=config) as rig, session(rig.relay, greet=False) as client:
        assert (await client.recv()).type == "session.created"
        assert (await client.recv()).type == "conversation.created"
        update = {
            "type": "session.update",
            "event_id": "evt_big",
            "session": {"type": "realtime", "instructions": "x" * 200},
        }
        error = await client.error(update)
        assert (error.code, error.event_id) == ("instructions_too_large", "evt_big")
        (upstream,) = rig.upstream_hosts()
        assert upstream.received_frames == 0  # the upstream never saw it


async def test_a_transcription_session_is_one_upstream_too() -> None:
    async with (
        relay_rig() as rig,
        session(rig.relay, query="intent=transcription", greet=False) as client,
    ):
        created = await client.recv()
        assert created.session.type == "transcription"
        (upstream,) = rig.upstream_hosts()
        assert isinstance(upstream.backend, LocalBackend)
        assert upstream.backend.config.kind == "transcription"


@pytest.mark.parametrize("compress", [False, True])
async def test_deflate_on_the_upstream_hop_is_a_setting(compress: bool) -> None:
    async with relay_rig(compress=compress) as rig, session(rig.relay) as client:
        await client.user_text("hello")
        (relayed,) = rig.relay_hosts()
        assert isinstance(relayed.backend, RelayBackend)
        link = relayed.backend.keeper.link
        assert link is not None and isinstance(link.transport, WebSocketTransport)
        extensions = link.transport.response_headers.get("sec-websocket-extensions", "")
        assert ("permessage-deflate" in extensions) is compress
