"""The embedded offline engine set: Silero VAD, Whisper STT, an LLM, Piper TTS.

Building it is instant: every engine loads its model on first use or on
``warm_up`` (see :mod:`rtagents.engines.warmup`, which the server runs in the
background at startup and reports on ``/healthz``). Nothing here downloads
anything; a part that cannot load fails on its own with a hint, and the rest
keep working.

The LLM is the embedded SmolLM2-135M (no tools, small) unless ``llm_url``
points at an OpenAI-compatible server (Ollama, llama.cpp, vLLM, OpenAI).
"""

from __future__ import annotations

import os
from typing import Final

from ..base import LLM, Engines
from .cpu_gate import CpuGate, gate_capacity
from .embedded_llm import MODEL_NAME, EmbeddedLLM
from .espeak_tts import EspeakTTS, FallbackTTS
from .openai_compat import OpenAICompatLLM
from .piper_tts import PiperTTS
from .silero_vad import SileroVAD
from .whisper_stt import WhisperSTT

DEFAULT_LLM_MODEL: Final = "llama3.2"  # what `ollama pull llama3.2` fetches
LLM_MODEL_ENV: Final = "RTAGENTS_LLM_MODEL"


def local_engines(
    *,
    llm_url: str | None = None,
    llm_model: str | None = None,
    stt_threads: int = 2,
    llm_threads: int | None = None,
    llm_slots: int = 1,
    vad: bool = True,
    engine_threads: int | None = None,
) -> Engines:
    """The local engine set, not yet loaded (the server warms it: ``WarmUp(engines)``).

    ``llm_url`` None means the embedded SmolLM2; ``llm_model`` defaults to
    ``$RTAGENTS_LLM_MODEL``, else ``llama3.2``; ``llm_threads`` (embedded
    only) defaults to half the usable cores (1 to 4), and ``llm_slots`` is
    how many requests it batches at once (see ``EmbeddedLLM``); ``vad=False``
    gives a push-to-talk-only server. Whisper and the TTS share one queue for
    ``engine_threads`` threads, the call nearest to a caller hearing audio first
    (:mod:`.cpu_gate`); None sizes it to the cores the embedded LLM leaves, 0
    gives no queue (each engine on its own threads).
    """
    llm, llm_label = _llm(llm_url, llm_model, llm_threads, llm_slots)
    labels = {
        "stt": f"whisper base (int8, {stt_threads} threads)",
        "llm": llm_label,
        "tts": "piper en_US-joe-medium (espeak-ng fallback)",
    }
    if vad:
        labels["vad"] = "silero vad (onnxruntime)"
    gate = None
    if engine_threads is None:
        engine_threads = gate_capacity(llm.threads if isinstance(llm, EmbeddedLLM) else 0)
    if engine_threads:
        gate = CpuGate(engine_threads)
        labels["cpu"] = f"one queue for {engine_threads} thread(s), nearest audio first"
    return Engines(
        llm=llm,
        tts=FallbackTTS(PiperTTS(gate=gate), EspeakTTS(gate=gate)),
        stt=WhisperSTT(cpu_threads=stt_threads, gate=gate),
        vad=SileroVAD() if vad else None,
        name="local",
        labels=labels,
    )


def _llm(url: str | None, model: str | None, threads: int | None, slots: int) -> tuple[LLM, str]:
    if url is None:
        return EmbeddedLLM(threads=threads, slots=slots), f"{MODEL_NAME} (embedded llama.cpp)"
    model = model or os.environ.get(LLM_MODEL_ENV) or DEFAULT_LLM_MODEL
    llm = OpenAICompatLLM(url=url, model=model)
    return llm, f"{model} at {llm.url}"
