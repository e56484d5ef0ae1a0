"""A relayed session's state as the protocol rules read it, live.

The host checks every client event against the same rules table as for a
local session, with the same limits (sizes, counts, items, the input buffer
without turn detection); what only the model knows (a truncate's bound past
the mirror, a tool's arguments) the upstream checks, and its ``error`` is
forwarded with the client's ``event_id``. The conversation and its responses
come from the host's mirror, which every forwarded upstream event updated.
"""

from __future__ import annotations

from collections.abc import Container
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from ...protocol.audio import AudioFormat
from ...protocol.server_facts import PCM16_BYTES_PER_MS

if TYPE_CHECKING:
    from ..host.backend import HostPort
    from ..host.limits import Limits


class RelayView:
    """What the relay knows of the upstream session, kept up to date by the backend."""

    def __init__(self) -> None:
        self.session: Any = None  # the upstream's latest session model
        self.audio_produced = False
        self.buffered_bytes = 0  # appended since the last commit/clear
        self.plays_audio = False
        self.pending_bytes = 0  # client events held while the upstream is rebuilt
        self._input_of: Any = None
        self._input: AudioFormat | None = None

    def audio_config(self, direction: str) -> Any:
        return getattr(getattr(self.session, "audio", None), direction, None)

    @property
    def input_format(self) -> AudioFormat:
        """Parsed once per session config: the rules read it for every append."""
        if self._input_of is not self.session or self._input is None:
            self._input_of = self.session
            self._input = AudioFormat.from_wire(getattr(self.audio_config("input"), "format", None))
        return self._input

    @property
    def output_format(self) -> AudioFormat:
        return AudioFormat.from_wire(getattr(self.audio_config("output"), "format", None))


class RelayFacts:
    """Implements :class:`~rtagents.protocol.server_facts.SessionFacts` over one relay."""

    closing = False  # the host checks closing itself, before asking the rules
    vad_available = True  # the upstream detects turns

    def __init__(self, port: HostPort, view: RelayView, limits: Limits) -> None:
        self._port = port
        self._view = view
        self._limits = limits

    def let_go(self, port: HostPort) -> None:
        """The session ended: hold the host weakly (``port``)."""
        self._port = port

    @property
    def kind(self) -> str:
        return str(getattr(self._view.session, "type", None) or "realtime")

    @property
    def model(self) -> str | None:
        model = getattr(self._view.session, "model", None)
        return model if isinstance(model, str) else None

    @property
    def voice(self) -> str | None:
        voice = getattr(self._view.audio_config("output"), "voice", None)
        return voice if isinstance(voice, str) else None

    @property
    def audio_produced(self) -> bool:
        return self._view.audio_produced

    @property
    def turn_detection(self) -> bool:
        return getattr(self._view.audio_config("input"), "turn_detection", None) is not None

    @property
    def buffered_ms(self) -> float:
        return self._view.input_format.duration_ms(self._view.buffered_bytes)

    @property
    def buffer_limit_ms(self) -> float:
        return self._limits.input_buffer_bytes / PCM16_BYTES_PER_MS  # counted as pcm16 at 24 kHz

    @property
    def input_bytes_per_ms(self) -> float:
        return self._view.input_format.bytes_for_ms(1000) / 1000

    @property
    def max_append_bytes(self) -> int | None:
        return self._limits.append_bytes

    @property
    def active_response(self) -> str | None:
        return self._port.conversation.active_response_id

    @property
    def responses(self) -> AbstractSet[str]:
        records = self._port.conversation.responses
        return {rid for rid, record in records.items() if record.status == "in_progress"}

    @property
    def plays_audio(self) -> bool:
        return self._view.plays_audio

    @property
    def items(self) -> Container[str]:
        return self._port.conversation

    @property
    def item_count(self) -> int:
        return len(self._port.conversation)

    @property
    def max_items(self) -> int | None:
        return self._limits.conversation_items

    @property
    def max_instructions_bytes(self) -> int | None:
        return self._limits.instructions_bytes

    @property
    def max_tools_bytes(self) -> int | None:
        return self._limits.tools_bytes

    @property
    def max_tools(self) -> int | None:
        return self._limits.tools_count

    @property
    def max_json_depth(self) -> int | None:
        return self._limits.json_depth

    @property
    def memory_held(self) -> int:
        return self._view.pending_bytes

    @property
    def memory_budget(self) -> int | None:
        return self._limits.session_memory_bytes
