"""The local backend's live facts: what the protocol rules read, as the pipeline changes.

A real host and local backend over the memory transport (``test_pipeline``'s
``local_session``); the view must say what a snapshot taken at the same moment
says, and the rules must decide the same on both.
"""

from __future__ import annotations

import base64
import dataclasses

from test_pipeline import Peer, local_session

from rtagents.protocol.server_facts import Facts, Request, SessionFacts
from rtagents.protocol.server_rules import RULES, decide

FIELDS = [field.name for field in dataclasses.fields(Facts)]


def snapshot(live: SessionFacts) -> Facts:
    values = {name: getattr(live, name) for name in FIELDS}
    values["responses"] = frozenset(values["responses"])
    return Facts(**values)


async def processed(peer: Peer) -> None:
    """Wait until every event sent so far was handled (an error answers the probe)."""
    await peer.send({"type": "conversation.item.retrieve", "item_id": "probe"})
    await peer.until("error")


def same_decisions(live: SessionFacts) -> None:
    frozen = snapshot(live)
    requests = [Request(type=kind) for kind in RULES]
    requests += [
        Request(type="input_audio_buffer.append", appended_bytes=48_000),
        Request(type="conversation.item.delete", item_id="missing"),
        Request(type="response.cancel", response_id="resp_x"),
    ]
    for request in requests:
        assert decide(live, request) == decide(frozen, request), request


async def test_the_view_follows_the_buffer_the_items_and_the_config() -> None:
    async with local_session() as peer:
        live = peer.backend.facts()
        assert (live.buffered_ms, live.active_response, live.audio_produced) == (0, None, False)
        assert live.input_bytes_per_ms == 48.0 and not live.closing
        same_decisions(live)

        audio = base64.b64encode(bytes(48 * 300)).decode()  # 300 ms of pcm16 at 24 kHz
        await peer.send({"type": "input_audio_buffer.append", "audio": audio})
        await processed(peer)
        assert live.buffered_ms == 300
        same_decisions(live)

        await peer.send({"type": "input_audio_buffer.commit"})
        committed = (await peer.until("input_audio_buffer.committed"))[-1]
        assert live.buffered_ms == 0 and committed.item_id in live.items
        assert "probe" not in live.items

        pcmu = {"type": "audio/pcmu"}
        update = {"type": "realtime", "audio": {"input": {"format": pcmu}}}
        await peer.send({"type": "session.update", "session": update})
        await peer.until("session.updated")
        assert live.input_bytes_per_ms == 8.0  # G.711: one byte per sample at 8 kHz
        same_decisions(live)
