"""Fixtures for the client tests: the scripted peer (see ``scripted_peer.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from scripted_peer import ScriptedPeer
from websockets.asyncio.server import serve


@pytest.fixture
async def peer() -> AsyncIterator[ScriptedPeer]:
    scripted = ScriptedPeer()
    async with serve(scripted.handle, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        scripted.url = f"ws://127.0.0.1:{port}/v1/realtime"
        yield scripted
