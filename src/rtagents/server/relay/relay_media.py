"""A WebRTC call answered through a WebSocket upstream: the host transcodes both ways.

The call hands the backend the caller's audio as PCM at the track's 48 kHz;
it goes upstream as ``input_audio_buffer.append`` in the upstream session's
input format (one stream resampler, then G.711 when the session says so).
The upstream's ``response.output_audio.delta`` is decoded from the session's
output format and played on the call's :class:`PcmSink` at 24 kHz (the call
resamples to its track); the delta never reaches the data channel, as on the
hosted API's WebRTC calls, but the mirror learns how much audio each item
produced, so a truncate stays bounded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ...protocol.audio import (
    PCM_RATE,  # what upstream formats are converted through, and what the sink gets
    b64decode_audio,
    b64encode_audio,
    pcm16_to_wire,
    wire_to_pcm16,
)
from ...protocol.errors import RealtimeError
from ...protocol.resample import StreamResampler
from ..host.backend import HostPort, PcmSink
from .relay_facts import RelayView

SendEvent = Callable[[dict[str, Any]], Awaitable[None]]


class RelayMedia:
    """The call's audio to the upstream, and the upstream's audio to the call."""

    def __init__(self, port: HostPort, view: RelayView, send_own: SendEvent) -> None:
        self.port = port
        self.view = view
        self.send_own = send_own
        self.sink: PcmSink | None = None
        self._inbound: StreamResampler | None = None

    def let_go(self, port: HostPort) -> None:
        """The session ended: hold the host weakly (``port``) and send nothing more."""
        self.port = port
        self.send_own = _sent_nowhere
        self.sink = None

    def route_to(self, sink: PcmSink | None) -> None:
        self.sink = sink
        self.view.plays_audio = sink is not None

    async def receive(self, pcm16: bytes, rate: int) -> None:
        """Caller audio (mono pcm16 at ``rate``) upstream as an append in the session's format."""
        if self._inbound is None or self._inbound.src_rate != rate:
            self._inbound = StreamResampler(rate, PCM_RATE)
        pcm = self._inbound.process(pcm16)
        if not pcm:
            return
        wire = pcm16_to_wire(pcm, PCM_RATE, self.view.input_format)
        self.view.buffered_bytes += len(wire)
        await self.send_own({"type": "input_audio_buffer.append", "audio": b64encode_audio(wire)})

    def play(self, delta: Any) -> bool:
        """On a call, play an output audio delta on the sink (True: it is not to be forwarded)."""
        sink = self.sink
        if sink is None:
            return False
        fmt = self.port.conversation.output_format
        try:
            wire = b64decode_audio(delta.delta, param="delta")
        except RealtimeError:
            return True  # the upstream's broken audio cannot be played; nothing to forward
        pcm = wire_to_pcm16(wire, fmt, PCM_RATE)
        sink.play(pcm, PCM_RATE, delta.response_id, delta.item_id)
        self.port.conversation.note_audio(delta.item_id, fmt.duration_ms(len(wire)))
        return True


async def _sent_nowhere(event: dict[str, Any]) -> None:
    """What an ended session's call audio goes to: nothing (the relay has let go)."""
