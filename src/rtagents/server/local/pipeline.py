"""The local pipeline as a Backend: the local engines answer the session (STT, VAD, LLM, TTS).

:class:`LocalBackend` assembles the parts, each the owner of its state:
:class:`AudioIn` (the input buffer and turn detection), :class:`Responder`
(running responses), :class:`ItemEdits` (conversation items), :class:`AudioOut`
(where response audio goes), and keeps the session config. The host hands it
each event the rules accepted; :func:`.dispatch.dispatch_table` says which
part answers it. It is also a :class:`MediaBackend`: a WebRTC call feeds it
PCM and plays its audio on a :class:`PcmSink`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from openai.types.realtime import (
    ConversationCreatedEvent,
    OutputAudioBufferClearEvent,
    SessionCreatedEvent,
    SessionUpdatedEvent,
    SessionUpdateEvent,
)

from ...engines.base import speakable_voices
from ...protocol.server_facts import SessionFacts
from ..host.backend import BackendFactory, HostPort, PcmSink
from ..host.wire_events import build
from .audio_in import AudioIn
from .audio_out import AudioOut
from .dispatch import Handler, dispatch_table
from .input_audio import InputAudio
from .item_edits import ItemEdits
from .live_facts import LiveFacts
from .responder import Responder
from .session_config import SessionConfig
from .session_context import SessionContext
from .speculation import CONVERSATION_CHANGES
from .turns import Turns

if TYPE_CHECKING:
    from ..state import ServerState


def local_backend(state: ServerState, config: SessionConfig) -> BackendFactory:
    """The factory a host calls to get its local backend (``config``: the initial one)."""

    def build_backend(port: HostPort) -> LocalBackend:
        return LocalBackend(port, state, config)

    return build_backend


log = logging.getLogger("rtagents.server.local")


class LocalBackend:
    """Answers one session with the local engines."""

    def __init__(self, port: HostPort, state: ServerState, config: SessionConfig) -> None:
        self.ctx = ctx = SessionContext(port, state, config)
        self.audio_out = AudioOut()
        self.responses = Responder(ctx, self.audio_out)
        self.audio_in = AudioIn(ctx, self.responses)
        self.items = ItemEdits(ctx, self.audio_in.decode)
        self._facts = LiveFacts(ctx, self.audio_in, self.audio_out, self.responses)
        self._table: Mapping[str, Handler] = dispatch_table(
            session_update=self.update_session,
            clear_output=self.clear_output,
            audio=self.audio_in,
            items=self.items,
            responses=self.responses,
        )
        port.add_observer(self.audio_in.turns)  # responses arm the idle timeout, fill marks

    @property
    def config(self) -> SessionConfig:
        return self.ctx.config

    @property
    def turns(self) -> Turns:
        return self.audio_in.turns

    @property
    def input(self) -> InputAudio:
        return self.ctx.input

    # --- Backend -----------------------------------------------------------------

    async def start(self) -> None:
        ctx = self.ctx
        ctx.conversation.set_output_format(ctx.config.output_format)
        log.info("local pipeline answers", extra={"session_id": ctx.id, "model": ctx.config.model})
        session = ctx.config.to_model(ctx.id, expires_at=ctx.port.expires_at)
        await ctx.emit(build(SessionCreatedEvent, session=session))
        conversation = {"id": ctx.conversation_id, "object": "realtime.conversation"}
        await ctx.emit(build(ConversationCreatedEvent, conversation=conversation))
        await ctx.mcp.list_initial(ctx.config.tools)  # MCP tools of a client secret's config

    async def handle(self, event: Any) -> None:
        if event.type in CONVERSATION_CHANGES:  # a held reply would answer another conversation
            self.turns.speculation.cancel()
        await self._table[event.type](event)

    def facts(self) -> SessionFacts:
        return self._facts

    async def close(self) -> None:
        """Nothing to release: the work it started runs as the host's tasks."""

    def let_go(self) -> None:
        """The host has ended (its observers told): break this session's reference cycles.

        The parts hold each other's bound methods and the host's; left as they
        are, an ended session waits for a full collection, which stops every
        session of the process for tens of ms per hundred live sessions
        (docs/benchmarks.md, "A new machine"). Nothing is handled after this.
        """
        self._table = {}
        self.turns.let_go()
        self.ctx.let_go()

    # --- MediaBackend --------------------------------------------------------------

    async def receive_pcm(self, pcm16: bytes, rate: int) -> None:
        await self.audio_in.receive_pcm(pcm16, rate)

    def set_audio_out(self, sink: PcmSink | None) -> None:
        self.audio_out.route_to(sink)

    # --- the events answered here ----------------------------------------------------

    async def update_session(self, event: SessionUpdateEvent) -> None:
        """``session.update``: merge, check, answer with the full effective config."""
        ctx = self.ctx
        update = event.session.model_dump(mode="json", exclude_unset=True, by_alias=True)
        state = ctx.state
        config = ctx.config.merged(
            update,
            vad_available=state.vad_available,
            limits=state.config.limits,
            voices=speakable_voices(state.engines.tts),
        )
        mcp_servers = ctx.mcp.accept(config.tools, "session.tools")  # URLs allowed?
        ctx.config = config
        self.audio_in.turns.configure()  # a changed turn_detection restarts the detector
        self.turns.speculation.config_changed()  # a held reply for another plan is dropped
        ctx.conversation.set_output_format(config.output_format)
        session = config.to_model(ctx.id, expires_at=ctx.port.expires_at)
        await ctx.emit(build(SessionUpdatedEvent, session=session))
        ctx.mcp.list_in_background(mcp_servers)  # mcp_list_tools.* follow session.updated

    async def clear_output(self, event: OutputAudioBufferClearEvent) -> None:
        """``output_audio_buffer.clear`` on a call (the rules refuse it on a WebSocket)."""
        if self.audio_out.sink is not None:
            await self.audio_out.sink.clear()
