"""The local pipeline's state as the protocol rules read it, live, without a snapshot.

The host asks the rules about every client event, appends included (thousands
a second under load), so instead of building a :class:`~rtagents.protocol.
server_facts.Facts` per event the backend hands the rules this view: each
property reads the pipeline's state only when a rule asks for it.
"""

from __future__ import annotations

from collections.abc import Container
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .audio_in import AudioIn
    from .audio_out import AudioOut
    from .responder import Responder
    from .session_config import SessionConfig
    from .session_context import SessionContext


class LiveFacts:
    """Implements :class:`~rtagents.protocol.server_facts.SessionFacts` over one pipeline."""

    closing = False  # the host checks closing itself, before asking the rules

    def __init__(
        self, ctx: SessionContext, audio_in: AudioIn, audio_out: AudioOut, responses: Responder
    ) -> None:
        self._ctx = ctx
        self._audio_in = audio_in
        self._audio_out = audio_out
        self._responses = responses
        self._rate_of: SessionConfig | None = None
        self._bytes_per_ms = 0.0

    @property
    def kind(self) -> str:
        return self._ctx.config.kind

    @property
    def model(self) -> str | None:
        return self._ctx.config.model

    @property
    def voice(self) -> str | None:
        return self._ctx.config.voice

    @property
    def audio_produced(self) -> bool:
        return self._audio_out.produced

    @property
    def vad_available(self) -> bool:
        return self._ctx.state.vad_available

    @property
    def turn_detection(self) -> bool:
        return self._audio_in.turns.settings is not None

    @property
    def buffered_ms(self) -> float:
        return self._ctx.input.buffered_ms

    @property
    def buffer_limit_ms(self) -> float:
        return self._ctx.input.limit_ms

    @property
    def input_bytes_per_ms(self) -> float:
        """Of the input format, read once per config (parsing the format is not free)."""
        config = self._ctx.config
        if self._rate_of is not config:
            self._rate_of = config
            self._bytes_per_ms = config.input_format.bytes_for_ms(1000) / 1000
        return self._bytes_per_ms

    @property
    def max_append_bytes(self) -> int | None:
        return self._ctx.state.config.limits.append_bytes

    @property
    def active_response(self) -> str | None:
        active = self._responses.active()
        return active.id if active is not None else None

    @property
    def responses(self) -> AbstractSet[str]:
        return self._responses.runs.keys()

    @property
    def plays_audio(self) -> bool:
        return self._audio_out.sink is not None

    @property
    def items(self) -> Container[str]:
        return self._ctx.conversation

    @property
    def item_count(self) -> int:
        return len(self._ctx.conversation)

    @property
    def max_items(self) -> int | None:
        return self._ctx.state.config.limits.conversation_items

    @property
    def max_instructions_bytes(self) -> int | None:
        return self._ctx.state.config.limits.instructions_bytes

    @property
    def max_tools_bytes(self) -> int | None:
        return self._ctx.state.config.limits.tools_bytes

    @property
    def max_tools(self) -> int | None:
        return self._ctx.state.config.limits.tools_count

    @property
    def max_json_depth(self) -> int | None:
        return self._ctx.state.config.limits.json_depth

    @property
    def memory_held(self) -> int:
        return self._ctx.input.held_bytes

    @property
    def memory_budget(self) -> int | None:
        return self._ctx.state.config.limits.session_memory_bytes
