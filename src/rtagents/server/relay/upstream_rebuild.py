"""Making a fresh upstream session into the lost one: config, then items with the same ids.

The same steps as the client SDK's rebuild (``client/rebuild_run.py``), with
the same pure functions (:mod:`rtagents.protocol.item_replay`): wait for
``session.created``, send ``session.update`` with the asked config, replay
the conversation mirror as ``conversation.item.create`` events (the same item
ids, audio as transcripts), and read until the upstream confirmed each one.
None of what the upstream says meanwhile reaches the downstream client: its
conversation never stopped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from ...protocol.codec import InvalidEvent
from ...protocol.conversation import Conversation
from ...protocol.errors import ConnectionFailure, Origin
from ...protocol.item_replay import replay_config, replay_events
from .. import ids
from .upstream_link import UpstreamLink

log = logging.getLogger("rtagents.server.relay")


@dataclass
class UpstreamSession:
    """What the upstream said about its session once it was ready."""

    session: Any  # the upstream's session model (session.created, then session.updated)
    expires_at: float | None  # unix seconds of the upstream's cap, when it says


async def greet(link: UpstreamLink, ack_timeout_s: float) -> UpstreamSession:
    """Read up to the upstream's ``session.created``."""
    first = await _next(link, ack_timeout_s)
    if getattr(first, "type", None) != "session.created":
        raise _failure(f"the upstream's first event was {_describe(first)}, not session.created")
    session = getattr(first, "session", None)
    expires_at = getattr(session, "expires_at", None)
    return UpstreamSession(session, float(expires_at) if expires_at else None)


async def restore(
    link: UpstreamLink,
    started: UpstreamSession,
    asked: dict[str, Any] | None,
    conversation: Conversation | None,
    ack_timeout_s: float,
) -> UpstreamSession:
    """Send the config and the conversation; return once the upstream confirmed each."""
    waiting: dict[str, str] = {}  # event_id -> what it restores
    config = replay_config(asked)
    if config is not None:
        waiting[await _send(link, {"type": "session.update", "session": config})] = "config"
    items = conversation.items if conversation is not None else []
    transcript = conversation.transcript if conversation is not None else (lambda _: "")
    for event in replay_events(items, transcript):
        waiting[await _send(link, event)] = str(event["item"]["id"])
    by_item = {what: event_id for event_id, what in waiting.items()}
    while waiting:
        event = await _next(link, ack_timeout_s)
        kind = getattr(event, "type", None)
        if kind == "session.updated":
            waiting.pop(by_item.get("config", ""), None)
            started.session = getattr(event, "session", started.session)
        elif kind == "conversation.item.done":
            item_id = getattr(getattr(event, "item", None), "id", None)
            waiting.pop(by_item.get(item_id or "", ""), None)
        elif kind == "error":
            error = getattr(event, "error", None)
            refused = waiting.pop(getattr(error, "event_id", None) or "", None)
            if refused is not None:
                message = getattr(error, "message", "")
                log.warning(
                    "relay rebuild: the upstream refused to restore %s: %s", refused, message
                )
    return started


async def _send(link: UpstreamLink, event: dict[str, Any]) -> str:
    event_id = "relay_" + ids.event_id()
    await link.send({**event, "event_id": event_id})
    return event_id


async def _next(link: UpstreamLink, ack_timeout_s: float) -> Any:
    try:
        return await asyncio.wait_for(link.recv(), ack_timeout_s)
    except TimeoutError:
        silent = f"the upstream said nothing for {ack_timeout_s:g} s while being set up"
        raise _failure(silent) from None


def _describe(event: Any) -> str:
    if isinstance(event, InvalidEvent):
        return f"an invalid event ({event.error})"
    if getattr(event, "type", None) == "error":
        error = getattr(event, "error", None)
        return f"an error: {getattr(error, 'code', None)}: {getattr(error, 'message', '')}"
    return repr(getattr(event, "type", None))


def _failure(message: str) -> ConnectionFailure:
    return ConnectionFailure(message, origin=Origin.REMOTE, code="upstream_unavailable")
