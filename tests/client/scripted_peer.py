"""A scripted Realtime peer: a real ``websockets`` server whose every event the test chooses.

Our own server never sends unknown event types, duplicate event ids or broken
events; these tests need a peer that does, so they script one. It speaks just
enough of the protocol (``session.created`` on connect, ``session.updated`` for
each ``session.update``) for a session to open.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

Reply = Callable[[dict[str, Any]], list[dict[str, Any]]]


def _session_updated(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "session.updated", "session": event.get("session", {})}]


class ScriptedPeer:
    """The server side of one test: records client events, sends what the test says."""

    def __init__(self) -> None:
        self.url = ""
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.replies: dict[str, Reply] = {"session.update": _session_updated}
        self.greeting: list[dict[str, Any]] = [
            {"type": "session.created", "session": {"type": "realtime", "id": "sess_test"}}
        ]
        self.headers: dict[str, str] = {}
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.connection: ServerConnection | None = None
        self._ids = itertools.count(1)

    def stamp(self, event: dict[str, Any]) -> dict[str, Any]:
        """Give a server event an id unless the test chose one."""
        return event if "event_id" in event else {**event, "event_id": f"event_{next(self._ids)}"}

    async def send(self, *events: dict[str, Any]) -> None:
        assert self.connection is not None, "no client connected"
        for event in events:
            await self.connection.send(json.dumps(self.stamp(event)))

    async def send_raw(self, text: str) -> None:
        assert self.connection is not None
        await self.connection.send(text)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        assert self.connection is not None
        await self.connection.close(code, reason)

    async def next_event(self, event_type: str | None = None) -> dict[str, Any]:
        """The next client event (of ``event_type``, skipping others)."""
        while True:
            event = await asyncio.wait_for(self.received.get(), timeout=5)
            if event_type is None or event["type"] == event_type:
                return event

    async def handle(self, ws: ServerConnection) -> None:
        self.connection = ws
        if ws.request is not None:
            self.headers = dict(ws.request.headers.raw_items())
        self.connected.set()
        try:
            await self.send(*self.greeting)
            async for message in ws:
                event = json.loads(message)
                await self.received.put(event)
                reply = self.replies.get(event["type"])
                if reply is not None:
                    await self.send(*reply(event))
        except ConnectionClosed:
            pass
        finally:
            self.disconnected.set()
