"""``Runner``: where an agent session connects, and with what (the openai-agents entry point)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, Literal

from pydantic import BaseModel

from ..client import Credentials, ReconnectPolicy, SessionConnector, TransportOpener, connect
from .agent import Agent
from .agent_session import AgentSession
from .context import TContext


class Runner(Generic[TContext]):
    """Runs ``agent`` on a Realtime server (OpenAI's or rtagents'): ``await runner.run()``.

    ``config`` is the rest of the session config (output modalities, audio
    formats, turn detection); the agent sets instructions, tools and voice.
    ``reconnect`` is on by default: the session survives drops, resumes or
    rebuilds, and keeps the active agent, approvals and guardrail state.
    """

    def __init__(
        self,
        agent: Agent[TContext],
        *,
        url: str = "wss://api.openai.com/v1/realtime",
        credentials: Credentials,
        model: str | None = None,
        transport: Literal["websocket", "webrtc"] | TransportOpener = "websocket",
        reconnect: ReconnectPolicy | bool | None = True,
        context: TContext | None = None,
        config: Mapping[str, Any] | BaseModel | None = None,
        tool_timeout: float = 30.0,
        debounce_text_length: int = 100,
        webrtc: bool | None = None,
        **connect_options: Any,
    ) -> None:
        self.agent = agent
        self.url = url
        self.credentials = credentials
        self.model = model
        self.transport = transport
        self.reconnect = reconnect
        self.context = context
        self.config = _plain(config)
        self.tool_timeout = tool_timeout
        self.debounce_text_length = debounce_text_length
        self.webrtc = (
            webrtc
            if webrtc is not None
            else transport == "webrtc" or type(transport).__name__ == "WebRTCCall"
        )
        self.connect_options = connect_options

    async def run(self, *, context: TContext | None = None) -> AgentSession[TContext]:
        """An agent session, not yet connected: ``async with session:`` connects it."""
        chosen = context if context is not None else self.context

        def open_client(config: Mapping[str, Any]) -> SessionConnector:
            return connect(
                self.url,
                credentials=self.credentials,
                model=self.model,
                session=config,
                transport=self.transport,
                reconnect=self.reconnect,
                tool_timeout=self.tool_timeout,
                **self.connect_options,
            )

        return AgentSession(
            self.agent,
            open_client=open_client,
            context=chosen,  # type: ignore[arg-type]
            base_config=self.config,
            webrtc=self.webrtc,
            tool_timeout=self.tool_timeout,
            debounce_text_length=self.debounce_text_length,
        )


def _plain(config: Mapping[str, Any] | BaseModel | None) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, BaseModel):
        return config.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return dict(config)
