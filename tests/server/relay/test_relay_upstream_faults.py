"""The relay's answers when the upstream is missing or slow to come back.

No upstream at all: the client is told why and the session closes (1011),
never a silent hang. An upstream that takes a while to rebuild: client events
sent meanwhile are held and reach the new upstream session in order; past
the bound they are refused with a clear error while the session goes on.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from relay_harness import relay_rig, until
from server_harness import session
from websockets.exceptions import ConnectionClosed

from rtagents.server.config import ServerConfig
from rtagents.server.relay.relay_backend import RelayBackend
from rtagents.server.relay.upstream_settings import UpstreamSettings
from rtagents.server.serving import running_server
from rtagents.testing.faults import Fault
from rtagents.testing.server_process import free_port


async def test_an_unreachable_upstream_is_said_and_the_session_closes() -> None:
    dead = UpstreamSettings(
        url=f"ws://127.0.0.1:{free_port()}/v1/realtime",
        api_key="sk-upstream",
        rebuild_tries=2,
        backoff_s=0.01,
    )
    config = replace(ServerConfig(port=0), upstream=dead)
    async with running_server(config) as relay, session(relay, greet=False) as client:
        error = await client.recv()
        assert error.type == "error"
        assert error.error.code == "upstream_unavailable"
        assert "2 tries" in error.error.message
        with pytest.raises(ConnectionClosed) as closed:
            await client.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011


async def test_events_sent_during_a_rebuild_are_held_and_then_sent_in_order() -> None:
    async with relay_rig(proxy=True, open_timeout_s=0.5, pending_bytes=2000) as rig:
        assert rig.proxy is not None
        async with session(rig.relay) as client:
            await client.user_text("first")
            # The next upstream connection never answers its handshake: that try times out.
            rig.proxy.plan_next(Fault.stall(None, direction="down"))
            (rig.proxy.connections[0]).cut()
            (relayed,) = rig.relay_hosts()
            backend = relayed.backend
            assert isinstance(backend, RelayBackend)
            await until(lambda: not backend.keeper.ready, "the relay to notice the drop")
            held = [f"held {n}" for n in range(3)]
            for text in held:
                await client.send(_user_text(text))
            error = await client.error(_user_text("x" * 3000))
            assert error.code == "upstream_reconnecting"
            await until(lambda: backend.keeper.ready, "the rebuilt upstream")
            events = await client.until("conversation.item.done")
            for _ in held[1:]:
                events += await client.until("conversation.item.done")
            texts = [relayed.conversation.transcript(i) for i in relayed.conversation.item_ids]
            assert texts == ["first", *held]
            upstream = rig.upstream_hosts()[-1]
            assert upstream.conversation.item_ids == relayed.conversation.item_ids
            assert len(rig.proxy.connections) == 3  # the first, the stalled try, the rebuild


def _user_text(text: str) -> dict[str, object]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


async def test_call_audio_past_the_rebuild_queue_is_dropped_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A call's audio is not a client event: past the bound it is dropped, never raised
    into the call's audio task (which would stop hearing the caller)."""
    async with relay_rig(pending_bytes=3000) as rig, session(rig.relay) as client:
        await client.user_text("a call, say")
        (relayed,) = rig.relay_hosts()
        backend = relayed.backend
        assert isinstance(backend, RelayBackend)
        backend.keeper.ready = False  # as while the upstream is being rebuilt
        twenty_ms = bytes(48_000 // 50 * 2)
        for _ in range(10):
            await backend.receive_pcm(twenty_ms, 48_000)
        assert 0 < backend.view.pending_bytes <= 3000
    dropped = [r for r in caplog.records if "dropping the call's" in r.getMessage()]
    assert len(dropped) == 1
