"""GA voice names -> what the embedded TTS engines can actually do.

The Realtime API has ten voices; we ship one Piper voice (``en_US-joe-medium``,
a single-speaker male US English model). Rather than pretend otherwise, every
GA name maps to that one voice with a small, fixed *pitch* offset so that two
agents on different voices remain tellable apart. The offset is applied as a
tape-speed trick: Piper renders the clause ``pitch`` times longer, and the
resampler then plays it ``pitch`` times faster, so the duration is unchanged
and the pitch (and formants) move by ``pitch``. Offsets stay within +-8 %:
beyond that the voice sounds processed. espeak-ng, the fallback, has variants,
so the table names one per voice there too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..base import EngineFailure

MIN_SPEED: Final = 0.25  # the GA range of audio.output.speed
MAX_SPEED: Final = 1.5


@dataclass(frozen=True, slots=True)
class VoiceStyle:
    """How one GA voice is rendered by the embedded engines."""

    pitch: float  # Piper: 1.0 = the model's own pitch
    espeak_variant: str  # espeak-ng voice variant (after "en-us+")
    espeak_pitch: int  # espeak-ng base pitch, 0..100


VOICES: Final[dict[str, VoiceStyle]] = {
    "alloy": VoiceStyle(1.00, "m3", 50),
    "ash": VoiceStyle(0.95, "m1", 40),
    "ballad": VoiceStyle(0.97, "m7", 45),
    "coral": VoiceStyle(1.06, "f2", 65),
    "echo": VoiceStyle(0.93, "m2", 35),
    "sage": VoiceStyle(1.03, "f1", 60),
    "shimmer": VoiceStyle(1.08, "f3", 70),
    "verse": VoiceStyle(0.98, "m4", 48),
    "marin": VoiceStyle(1.05, "f4", 62),
    "cedar": VoiceStyle(0.92, "m6", 32),
}


def voice_style(voice: str) -> VoiceStyle:
    """The style of a GA voice name; an unknown name is a clear EngineFailure."""
    style = VOICES.get(voice)
    if style is None:
        raise EngineFailure(
            f"Unknown voice {voice!r}; the embedded TTS speaks "
            + ", ".join(VOICES)
            + " (all rendered by one packaged Piper voice, see docs/engines.md).",
            hint="Set audio.output.voice to one of the GA voice names.",
        )
    return style


def check_speed(speed: float) -> float:
    """``speed`` within the GA range, or a clear EngineFailure (the server validates first)."""
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise EngineFailure(
            f"Speech speed {speed} is outside {MIN_SPEED}..{MAX_SPEED}.",
            hint="Set audio.output.speed between 0.25 and 1.5.",
        )
    return speed
