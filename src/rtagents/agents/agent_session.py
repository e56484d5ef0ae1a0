"""An agent session: the active agent on a resilient client session, as typed events.

It owns what outlives any one connection (the active agent, pending approvals,
guardrail state, which calls ran), so the client's reconnect, resume, rebuild
and rollover change nothing an app can see: the client replays the session
config it was last asked for, which is always the active agent's, because
every agent switch is one ``session.update``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from ..client import Session, SessionConnector
from ..protocol.bounded import RecentDict
from ..protocol.errors import LocalProtocolError, RealtimeError
from .agent import Agent
from .agent_events import AgentEvent, HandoffEvent, RawEvent
from .context import RunContext, TContext
from .event_queue import EventQueue
from .guardrail import GuardrailWatch
from .session_events import EventRouter
from .session_guard import GuardrailRunner
from .tool_calls import CallDispatcher

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger("rtagents.agents")
T = TypeVar("T")
ClientFactory = Callable[["Mapping[str, Any]"], SessionConnector]


class AgentSession(Generic[TContext]):
    """Made by :meth:`Runner.run`; ``async with session: async for event in session: ...``."""

    def __init__(
        self,
        agent: Agent[TContext],
        *,
        open_client: ClientFactory,
        context: TContext,
        base_config: Mapping[str, Any] | None = None,
        webrtc: bool = False,
        tool_timeout: float = 30.0,
        debounce_text_length: int = 100,
        event_capacity: int = 10_000,
    ) -> None:
        self._agent: Agent[TContext] = agent
        self._open_client = open_client
        self._base_config = dict(base_config or {})
        self.context: TContext = context
        self.run_context: RunContext[TContext] = RunContext(context)
        self.tool_timeout = tool_timeout
        self.webrtc = webrtc
        """Also clear the server's output audio buffer on interrupt (WebRTC/SIP)."""
        self.audio_produced = False
        """Some audio was produced: the protocol fixes the voice from then on."""
        self._client: Session | None = None
        self._events = EventQueue(event_capacity)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pump: asyncio.Task[None] | None = None
        self._switch_lock = asyncio.Lock()
        self._response_agents: RecentDict[str, Agent[Any]] = RecentDict(1024)
        self.calls = CallDispatcher(self)
        self.guardrails = GuardrailRunner(self, GuardrailWatch(debounce_text_length))
        self._router = EventRouter(self, self.calls, self.guardrails)

    # -- state ------------------------------------------------------------------------

    @property
    def current_agent(self) -> Agent[TContext]:
        return self._agent

    @property
    def client(self) -> Session:
        """The underlying client session (reconnects, playback, raw sends)."""
        if self._client is None:
            raise LocalProtocolError("the agent session is not open yet", code="invalid_state")
        return self._client

    @property
    def history(self) -> list[Any]:
        """The conversation's items, in order (the client's mirror of the server's)."""
        return list(self.client.conversation.items)

    def agent_of_response(self, response_id: str | None) -> Agent[Any]:
        """The agent that was active when ``response_id`` started (else the active one)."""
        if response_id is None:
            return self._agent
        return self._response_agents.get(response_id, self._agent)

    def note_response(self, response_id: str) -> Agent[Any]:
        agent = self._response_agents.get(response_id)
        if agent is None:
            agent = self._response_agents[response_id] = self._agent
        return agent

    # -- opening and closing ------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect with the first agent's config, then start turning events into agent events."""
        if self._client is not None:
            raise LocalProtocolError("the agent session was already started", code="invalid_state")
        config = _merge(
            self._base_config, await self._agent.session_config(self.run_context, voice=True)
        )
        connector = self._open_client(config)
        self._client = connector.session
        self._client.on_error(self._router.on_error)
        try:
            await self._client.open()
        except BaseException:
            self._events.end()  # nothing will come: a reader must not wait forever
            raise
        self._pump = asyncio.create_task(self._read(), name="rtagents-agent-events")

    async def close(self) -> None:
        """Close the client session; ``async for`` ends after the buffered events."""
        self.calls.cancel_all()
        if self._client is not None:
            await self._client.close()
        if self._pump is not None:
            await asyncio.wait({self._pump}, timeout=5.0)
            if not self._pump.done():
                self._pump.cancel()
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._events.end()

    async def _read(self) -> None:
        try:
            async for event in self.client:
                self.emit(RawEvent(event=event))
                try:
                    self._router.route(event)
                except Exception:  # a bug here must not end the event stream
                    log.exception("failed to process %r; the session goes on", event)
        finally:
            self._events.end()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> AgentEvent:
        return await self._events.get()  # type: ignore[return-value]

    def emit(self, event: AgentEvent) -> None:
        self._events.push(event)

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_crash)
        return task

    # -- what the app does --------------------------------------------------------------

    async def send_text(self, text: str, *, respond: bool = True) -> None:
        """Add a user text message and (by default) ask for a response."""
        await self.client.send_text(text)
        if respond:
            await self.client.create_response()

    async def send_audio(self, audio: bytes, *, commit: bool = False) -> None:
        """Append input audio; ``commit`` ends the user's turn (push-to-talk) and, without
        server turn detection, asks for the response."""
        await self.client.append_audio(audio)
        if commit:
            await self.client.commit_audio()
            if not _turn_detection_on(self.client.config):
                await self.client.create_response()

    def played(self, item_id: str, ms: float) -> float:
        """Report playback progress; interrupts and guardrails truncate at what was heard."""
        return self.client.playback.played(item_id, ms)

    async def interrupt(self) -> None:
        """Stop the assistant now: cancel, truncate at the played position, clear (WebRTC)."""
        await self.guardrails.stop_response(
            self.client.conversation.active_response_id,
            self.client.playback.current_item_id,
            reason="interrupt",
        )

    async def approve(self, call_id: str, *, always: bool = False) -> bool:
        """Run a call that awaits approval; ``always``: approve this tool from now on."""
        return self.calls.decide(call_id, True, None, always)

    async def reject(self, call_id: str, reason: str | None = None) -> bool:
        """Answer the call with a rejection (the model is told ``reason``)."""
        return self.calls.decide(call_id, False, reason, False)

    async def switch_agent(self, agent: Agent[Any]) -> None:
        """Make ``agent`` the active one now (one ``session.update``)."""
        await self.switch(agent, call_id=None)

    async def switch(self, agent: Agent[Any], *, call_id: str | None) -> None:
        async with self._switch_lock:
            previous = self._agent
            config = await agent.session_config(self.run_context, voice=not self.audio_produced)
            try:
                await self.client.update_session(config)
            except RealtimeError as exc:
                if exc.code != "cannot_update_voice":
                    raise
                # Audio went out unseen (WebRTC plays it off the event stream): keep the voice.
                self.audio_produced = True
                config.pop("audio", None)
                await self.client.update_session(config)
            self._agent = agent
            self.emit(HandoffEvent(from_agent=previous, to_agent=agent, call_id=call_id))

    async def respond_after_tools(self) -> None:
        try:
            await self.client.create_response()
        except Exception as exc:
            log.warning("could not ask for a response after tool outputs: %s", exc)

    def decode_audio(self, delta: object) -> bytes:
        return base64.b64decode(delta) if isinstance(delta, str) else b""


def _merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        old = merged.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            merged[key] = _merge(old, value)
        else:
            merged[key] = value
    return merged


def _turn_detection_on(config: Any) -> bool:
    audio = getattr(config, "audio", None)
    source = getattr(audio, "input", None)
    return getattr(source, "turn_detection", None) is not None


def _log_crash(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("agent task %s failed", task.get_name(), exc_info=task.exception())
