"""The deterministic engine set: a scripted model that speaks a tone code.

Use it wherever a real model would make a test slow or flaky. The LLM follows
:class:`Rule`\\ s (see :mod:`.scripted_llm`); the TTS turns text into tones and
the STT turns those tones back into the same text (see :mod:`.scripted_voice`),
so a voice turn round-trips exactly: what a client "says" with
:func:`scripted_speech` is what the server transcribes.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import VAD, Engines
from .energy_vad import EnergyVAD
from .scripted_llm import GREETING, CallTool, Fail, Reply, Rule, Say, ScriptedLLM, last_user_text
from .scripted_voice import (
    ALPHABET,
    MS_PER_CHAR,
    SAMPLE_RATE,
    ScriptedSTT,
    ScriptedTTS,
    decode_audio,
    scripted_speech,
    speakable,
)

__all__ = [
    "ALPHABET",
    "GREETING",
    "MS_PER_CHAR",
    "SAMPLE_RATE",
    "CallTool",
    "EnergyVAD",
    "Fail",
    "Reply",
    "Rule",
    "Say",
    "ScriptedLLM",
    "ScriptedSTT",
    "ScriptedTTS",
    "decode_audio",
    "last_user_text",
    "scripted_engines",
    "scripted_speech",
    "speakable",
]


def scripted_engines(rules: Sequence[Rule] = (), *, vad: VAD | bool = True) -> Engines:
    """The scripted LLM, TTS and STT as one engine set named ``"scripted"``.

    ``vad`` is an :class:`EnergyVAD` by default (the tone code is loudness
    exact), ``False`` for a server without turn detection (push-to-talk only),
    or any VAD to pair with the scripted model.
    """
    chosen = EnergyVAD() if vad is True else (vad or None)
    return Engines(
        llm=ScriptedLLM(rules), tts=ScriptedTTS(), stt=ScriptedSTT(), vad=chosen, name="scripted"
    )
