"""The paced outbound track's accounting, and inbound frames as pcm16 at 24 or 48 kHz."""

from __future__ import annotations

import fractions
from collections.abc import Hashable

import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from rtagents.protocol.audio import PCM_RATE
from rtagents.transports import webrtc_audio
from rtagents.transports.webrtc_audio import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    OPUS_RATE,
    PacedAudioTrack,
    pcm16_frames,
)


class Listener:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Hashable]] = []

    def playing(self, tag: Hashable) -> None:
        self.calls.append(("playing", tag))

    def idle(self, tag: Hashable) -> None:
        self.calls.append(("idle", tag))


async def _frames(track: PacedAudioTrack, count: int) -> list[bytes]:
    frames = []
    for _ in range(count):
        frame = await track.recv()
        assert (frame.sample_rate, frame.samples, frame.layout.name) == (PCM_RATE, 480, "mono")
        frames.append(bytes(frame.planes[0])[:FRAME_BYTES])
    return frames


async def test_tagged_audio_plays_in_order_and_is_counted_per_tag() -> None:
    listener = Listener()
    track = PacedAudioTrack(listener)
    track.enqueue(b"\x01\x00" * 2400, "a")  # 100 ms
    track.enqueue(b"\x02\x00" * 960 + b"\x03", "b")  # 40 ms (+ an odd byte, dropped)
    assert track.queued_ms == 140
    frames = await _frames(track, 9)
    assert track.played_ms("a") == 100 and track.played_ms("b") == 40
    assert frames[0] == b"\x01\x00" * FRAME_SAMPLES and frames[5] == b"\x02\x00" * FRAME_SAMPLES
    assert frames[7] == frames[8] == bytes(FRAME_BYTES)  # silence once the queue is empty
    assert listener.calls == [("playing", "a"), ("playing", "b"), ("idle", "b")]
    await track.drained()
    track.stop()


async def test_clear_drops_the_queue_and_reports_whose_audio_it_was() -> None:
    listener = Listener()
    track = PacedAudioTrack(listener)
    track.enqueue(bytes(FRAME_BYTES * 3), "a")
    track.enqueue(bytes(FRAME_BYTES), "b")
    await _frames(track, 1)
    assert track.current == "a"
    assert track.clear() == ["a", "b"]
    assert track.current is None and track.queued_ms == 0
    await track.drained()
    assert track.played_ms("a") == 20 and track.played_ms("b") == 0
    await _frames(track, 1)
    assert listener.calls == [("playing", "a")]  # a clear is not "played to the end"
    track.stop()
    track.enqueue(bytes(FRAME_BYTES), "c")  # ignored once stopped
    assert track.queued_ms == 0
    with pytest.raises(MediaStreamError):
        await track.recv()


class StereoSource(MediaStreamTrack):
    """Decoded Opus as aiortc delivers it: s16 stereo 48 kHz, 20 ms frames."""

    kind = "audio"

    def __init__(self, frames: int) -> None:
        super().__init__()
        self.left = frames
        self.pts = 0

    async def recv(self) -> av.AudioFrame:
        if self.left == 0:
            raise MediaStreamError
        self.left -= 1
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(np.full(1920, 1000, dtype="<i2").tobytes())
        frame.sample_rate, frame.pts = 48_000, self.pts
        frame.time_base = fractions.Fraction(1, 48_000)
        self.pts += 960
        return frame


async def test_inbound_frames_become_pcm16_mono_24k() -> None:
    chunks = [chunk async for chunk in pcm16_frames(StereoSource(50))]
    pcm = np.frombuffer(b"".join(chunks), dtype="<i2")
    assert abs(len(pcm) - 24_000) <= 480  # one second, give or take the resampler's delay
    assert np.all(np.abs(pcm[200:-200] - 1000) <= 2)


async def test_inbound_frames_at_the_opus_rate_are_only_mixed_down() -> None:
    """A server takes the caller's audio at 48 kHz and resamples it once, where it is used."""
    chunks = [chunk async for chunk in pcm16_frames(StereoSource(50), OPUS_RATE)]
    assert [len(chunk) for chunk in chunks] == [960 * 2] * 50  # 20 ms frames, none held back
    assert set(np.frombuffer(b"".join(chunks), dtype="<i2").tolist()) == {1000}


async def test_played_counts_are_kept_for_recent_tags_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webrtc_audio, "TAGS_KEPT", 2)
    track = PacedAudioTrack()
    for tag in ("a", "b", "c", "d"):
        track.enqueue(bytes(FRAME_BYTES), tag)
    await _frames(track, 4)
    assert [track.played_ms(tag) for tag in ("a", "b", "c", "d")] == [0, 0, 20, 20]
    track.stop()
