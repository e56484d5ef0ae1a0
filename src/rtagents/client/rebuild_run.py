"""Rebuilding a lost session on a fresh connection (see :mod:`.rebuild` for what is sent).

The rebuild talks to the new server session on its own before the session's
reader takes over: it waits for ``session.created``, restores the config,
replays the conversation and waits until the server confirmed every item.
Those echoes update the mirror (the server's ids and content are the truth)
but are not delivered to the app, which sees one ``rtagents.resumed`` event
with ``rebuilt=True`` instead of a second copy of its conversation.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ..protocol.codec import decode_server_event, encode_event
from ..protocol.errors import ConnectionFailure, Origin
from ..transports.base import Transport
from .connection import Connection
from .events import new_event_id, type_of
from .inbound import classify
from .rebuild import replay_config, replay_events

if TYPE_CHECKING:
    from .inbound import Inbound
    from .session_parts import SessionControl, SessionParts

log = logging.getLogger("rtagents.client.rebuild")


class _Replay:
    """Frames of the new connection sent and read during a rebuild, counted and absorbed."""

    def __init__(self, connection: Connection, inbound: Inbound, timeout: float) -> None:
        self.connection = connection
        self.inbound = inbound
        self.timeout = timeout

    async def send(self, event: dict[str, Any]) -> str:
        event_id = new_event_id()
        await self.connection.send_before_live(encode_event({**event, "event_id": event_id}))
        return event_id

    async def next(self) -> object:
        raw = await asyncio.wait_for(self.connection.recv(), self.timeout)
        self.connection.count(raw)
        event = decode_server_event(raw)
        self.inbound.absorb(event, raw)
        return event


async def rebuild_on(session: SessionControl, parts: SessionParts, transport: Transport) -> None:
    """Turn the fresh server session on ``transport`` into the lost one, then go live."""
    connection = Connection.fresh(transport, ring_bytes=parts.ring_bytes, clock=parts.clock)
    parts.gate.reset()
    replay = _Replay(connection, parts.inbound, session.ack_timeout)
    first = await replay.next()
    if type_of(first) != "session.created":
        raise _unexpected(first, "session.created")
    waiting: dict[str, str] = {}  # event_id -> what it restores
    asked = parts.inbound.asked
    # Updates sent on the lost connection and never answered are in the replayed config;
    # those still queued go out after the replay and get their own answers.
    restoring = [e for e in asked.pending if e not in parts.outbound.queue.queued_ids]
    config = replay_config(asked.current)
    if config is not None:
        waiting[await replay.send({"type": "session.update", "session": config})] = "config"
    conversation = session.conversation
    for event in replay_events(conversation.items, conversation.transcript):
        waiting[await replay.send(event)] = event["item"]["id"]
    updated = await _confirmations(replay, waiting)
    if updated is not None:
        parts.inbound.restored(restoring, updated)
    await session.install(connection)


async def _confirmations(replay: _Replay, waiting: dict[str, str]) -> object | None:
    """Read until every replayed event was confirmed (or refused, which is logged);
    the ``session.updated`` that confirmed the config, if it was."""
    items = {what: event_id for event_id, what in waiting.items()}
    updated: object | None = None
    while waiting:
        event = await replay.next()
        etype = type_of(event)
        if etype == "session.updated":
            waiting.pop(items.get("config", ""), None)
            updated = event
        elif etype == "conversation.item.done":
            item_id = getattr(getattr(event, "item", None), "id", None)
            waiting.pop(items.get(item_id or "", ""), None)
        elif etype == "error":
            error = classify(event)
            event_id = error.event_id if error is not None else None
            if event_id in waiting:
                what = waiting.pop(event_id)
                log.warning("rebuild: the server refused to restore %s: %s", what, error)
    return updated


def _unexpected(event: object, wanted: str) -> ConnectionFailure:
    error = classify(event)
    detail = f"{error}" if error is not None else f"a {type_of(event)!r} event"
    return ConnectionFailure(
        f"rebuilding the session: expected {wanted!r} first, got {detail}",
        origin=Origin.REMOTE,
        code="rebuild_failed",
    )
