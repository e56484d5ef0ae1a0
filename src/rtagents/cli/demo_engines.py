"""The demo's engines and the voice that asks its questions.

The user's side of the demo needs speech to stream. With the local engines
it is Piper (the same packaged voice the server speaks with, at a fixed
variation so runs are repeatable); with the scripted engine it is the tone
code that the scripted STT decodes exactly.
"""

from __future__ import annotations

from typing import Protocol

from ..engines.base import Engines


class DemoVoice(Protocol):
    async def speak(self, text: str) -> bytes:
        """``text`` as pcm16 at 24 kHz."""
        ...


class _PiperVoice:
    def __init__(self) -> None:
        from ..engines.local.piper_tts import PiperTTS

        self._tts = PiperTTS(variation=0.0)

    async def speak(self, text: str) -> bytes:
        chunks = [chunk async for chunk in self._tts.synthesize(text, voice="alloy")]
        return b"".join(chunks)


class _ToneVoice:
    async def speak(self, text: str) -> bytes:
        from ..engines.scripted import scripted_speech

        return scripted_speech(text)


def demo_engines(engine: str, *, llm_url: str | None = None) -> tuple[Engines, DemoVoice]:
    """The server's engine set for ``engine`` (``local`` or ``scripted``) and the asking voice."""
    if engine == "scripted":
        from ..engines.scripted import scripted_engines

        return scripted_engines(), _ToneVoice()
    from ..engines.local.factory import local_engines

    return local_engines(llm_url=llm_url), _PiperVoice()
