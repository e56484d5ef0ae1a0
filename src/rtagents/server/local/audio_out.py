"""Where a session's response audio goes: delta events, or a PcmSink (a WebRTC call's track).

On a call the response writer hands the sink PCM at the engine's rate before
any wire event is built (no base64 round trip, no G.711 on the way); the
conversation still learns how much audio each item produced, so a truncate
stays bounded as on a WebSocket. Once any audio went out the voice is fixed.
"""

from __future__ import annotations

from ..host.backend import PcmSink


class AudioOut:
    """The session's output audio route and whether audio was produced yet."""

    def __init__(self) -> None:
        self.sink: PcmSink | None = None
        self.produced = False  # from the first chunk on, the voice is fixed

    def route_to(self, sink: PcmSink | None) -> None:
        self.sink = sink

    def mark_produced(self) -> None:
        self.produced = True
