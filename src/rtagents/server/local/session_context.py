"""What every part of the local pipeline shares: the host port, the engines, the config.

The parts (input audio, turns, transcription, responses, item edits) each
own their state; they reach the host only through its :class:`HostPort`
(emit, spawn, the conversation mirror) and read the session config here.
Only :meth:`LocalBackend.update_session` replaces the config.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, cast

from ...protocol.conversation import Conversation
from .. import ids
from ..host.backend import HostPort
from ..mcp.listing import McpSession
from .input_audio import InputAudio
from .session_config import SessionConfig
from .truncation import HistoryWindow

if TYPE_CHECKING:
    from ..state import ServerState


class SessionContext:
    """One local session's shared surroundings (not its state: each part owns its own)."""

    def __init__(self, port: HostPort, state: ServerState, config: SessionConfig) -> None:
        self.port = port
        self.state = state
        self.config = config
        self.conversation_id = ids.conversation_id()
        # Uncommitted audio, committed audio per item and transcriptions in flight.
        limits = state.config.limits
        self.input = InputAudio(limits.input_buffer_bytes, limits.session_memory_bytes)
        # The host's own methods, bound once: every audio delta goes through emit,
        # so a forwarding coroutine here would cost one more await per event.
        self.emit = port.emit
        self.emit_all = port.emit_all
        self.reply_error = port.reply_error
        # Which oldest turns the model no longer sees (session.truncation).
        self.history_window = HistoryWindow()
        # Its MCP servers and their cached tool listings. It holds this context
        # weakly: each holding the other would be a cycle (freed by full collections only).
        self.mcp = McpSession(cast("SessionContext", weakref.proxy(self)))

    def let_go(self) -> None:
        """The host has ended: hold it weakly and emit nothing more.

        Every part of the session holds this context and the host holds the
        parts, so the bound methods above close a cycle through the host; broken
        here, an ended session is freed as soon as it is dropped instead of
        waiting for a full collection, which stops every session of the process.
        """
        self.port = cast("HostPort", weakref.proxy(self.port))
        self.emit = self.emit_all = _not_sent
        self.reply_error = _ended

    @property
    def id(self) -> str:
        return self.port.session_id

    @property
    def conversation(self) -> Conversation:
        return self.port.conversation

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self.port.spawn(coro, name)


async def _not_sent(*_: Any, **__: Any) -> bool:
    """What an ended session's parts emit into: nothing reaches a closed transport."""
    return False


async def _ended(*_: Any, **__: Any) -> None:
    """An ended session's error replies go nowhere, as its events do."""
