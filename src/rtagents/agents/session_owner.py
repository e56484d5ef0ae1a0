"""What the agent session's parts (calls, guardrails, event routing) need of the session."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from .agent import Agent, LiveSession
from .agent_events import AgentEvent

T = TypeVar("T")


class SessionOwner(LiveSession, Protocol):
    """The agent session as the parts it owns see it: what an app sees (a call's context
    hands it to the tool) and the bookkeeping they share. :class:`~.agent_session.AgentSession`
    is its one implementation; a protocol because that module is built on its parts."""

    tool_timeout: float
    webrtc: bool
    """Also clear the server's output audio buffer on interrupt (WebRTC/SIP)."""
    audio_produced: bool
    """Some audio was produced: the protocol fixes the voice from then on."""

    def agent_of_response(self, response_id: str | None) -> Agent[Any]: ...
    def note_response(self, response_id: str) -> Agent[Any]: ...
    def emit(self, event: AgentEvent) -> None: ...
    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]: ...
    async def switch(self, agent: Agent[Any], *, call_id: str | None) -> None: ...
    async def respond_after_tools(self) -> None: ...
    def decode_audio(self, delta: object) -> bytes: ...
