"""The upstream drops mid-response: the client stays connected and hears it honestly.

A :class:`FaultProxy` between the relay and the upstream cuts the upstream
connection while a response streams. The downstream client must get that
response's ``response.done`` with status ``failed`` (never a hang), stay on
the same connection, and find a rebuilt upstream session holding the same
items with the same ids, on which the next turn completes. The relay's own
/metrics and recording show the relayed session and the rebuild.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from relay_harness import RelayRig, relay_rig, until
from server_harness import RawClient, session

from rtagents.server.config import ServerConfig
from rtagents.server.host.recording_observer import session_recorders
from rtagents.testing.faults import Fault

# Past response.created and the small events after it, inside the audio that follows.
CUT_AFTER_BYTES = 4000


async def _cut_mid_response(rig: RelayRig, client: RawClient) -> list[Any]:
    """Ask for an audio response with a cut planned a little way into it; its events."""
    assert rig.proxy is not None
    connection = await rig.proxy.connection(0)
    connection.down.pending.append(
        Fault.cut(at_byte=connection.down.read_bytes + CUT_AFTER_BYTES, direction="down")
    )
    await client.send({"type": "response.create"})
    events = await client.until("response.done")
    assert connection.was_cut
    return events


def _rebuilt_upstream(rig: RelayRig) -> Any:
    live = [h for h in rig.upstream_hosts() if not h.closing and not h.transport.closed]
    return live[-1] if live else None


async def test_a_cut_mid_response_fails_it_and_the_next_turn_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rtagents.server.relay")
    config = ServerConfig(port=0, observers=(session_recorders(str(tmp_path)),))
    async with relay_rig(proxy=True, relay_config=config) as rig, session(rig.relay) as client:
        user_item = await client.user_text("tell me something long")
        events = await _cut_mid_response(rig, client)
        created = next(e for e in events if e.type == "response.created")
        done = events[-1]
        assert done.response.id == created.response.id
        assert done.response.status == "failed"
        assert done.response.status_details.error.code == "upstream_connection_lost"
        error = await client.recv()
        assert error.type == "error" and error.error.code == "upstream_connection_lost"

        (relayed,) = rig.relay_hosts()
        await until(lambda: rig.relay.config.metrics.upstream_rebuilds._metrics != {}, "a rebuild")
        await until(lambda: _rebuilt_upstream(rig) is not None, "the rebuilt upstream")
        await until(
            lambda: _rebuilt_upstream(rig).conversation.item_ids == relayed.conversation.item_ids,
            "the rebuilt upstream to hold the mirror's items",
        )
        assert relayed.conversation.item_ids[0] == user_item
        assert len(relayed.conversation.item_ids) == 2  # the user's, the cut assistant's

        second_user = await client.user_text("and now?")
        await client.send({"type": "response.create"})
        second = await client.until("response.done")
        assert second[-1].response.status == "completed"
        assert _rebuilt_upstream(rig).conversation.item_ids == relayed.conversation.item_ids
        assert second_user in relayed.conversation.item_ids
        assert not relayed.transport.closed  # the same downstream connection throughout

        exposition = await _metrics(rig)
    assert 'rtagents_upstream_rebuilds_total{reason="drop"} 1.0' in exposition
    assert "upstream_connection_lost" in _recorded(tmp_path)
    said = [r.getMessage() for r in caplog.records if r.name == "rtagents.server.relay"]
    assert any("dropped" in line and "rebuilding" in line for line in said), said
    assert any("is live after a drop (2 items restored)" in line for line in said), said


def _recorded(directory: Path) -> str:
    """Every recording's text (the relayed session's, written by the host's observer)."""
    recordings = list(directory.glob("*.jsonl*"))
    assert recordings, list(directory.iterdir())
    return "\n".join(p.read_text() for p in recordings)


async def _metrics(rig: RelayRig) -> str:
    async with httpx.AsyncClient(base_url=rig.relay.http_url) as http:
        answer = await http.get(
            "/metrics", headers={"Authorization": f"Bearer {rig.relay.api_key}"}
        )
    assert answer.status_code == 200
    return answer.text


async def test_the_relays_metrics_count_the_relayed_session() -> None:
    async with relay_rig() as rig, session(rig.relay) as client:
        await client.user_text("count me")
        exposition = await _metrics(rig)
    active = [
        line for line in exposition.splitlines() if line.startswith("rtagents_sessions_active")
    ]
    assert active == ["rtagents_sessions_active 1.0"]
    forwarded = [
        line
        for line in exposition.splitlines()
        if 'type="conversation.item.added"' in line and not line.endswith(" 0.0")
    ]
    assert forwarded, "the relay counts the events it forwarded"
