"""Whisper STT on speech the packaged TTS engines synthesize in the test."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import numpy as np
import pytest
from local_speech import SENTENCES, padded, speak, words

from rtagents.engines.base import STT, EngineFailure, TranscriptionHints
from rtagents.engines.local.loadable import Loadable
from rtagents.engines.local.whisper_stt import WhisperSTT


@pytest.fixture(scope="module")
def stt() -> Iterator[WhisperSTT]:
    engine = WhisperSTT()  # no default language: detects unless a call names one
    engine.load()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def speech() -> dict[str, bytes]:
    return {text: speak(text) for text in SENTENCES}


def test_implements_the_protocols(stt: WhisperSTT) -> None:
    assert isinstance(stt, STT) and isinstance(stt, Loadable)
    assert stt.sample_rate == 16_000 and stt.loaded


async def test_transcribes_piper_speech_word_for_word(
    stt: WhisperSTT, speech: dict[str, bytes]
) -> None:
    for text, pcm in speech.items():
        transcript = await stt.transcribe(pcm, language="en")
        assert words(transcript.text) == words(text)
        assert transcript.language == "en"


async def test_transcribes_espeak_speech(stt: WhisperSTT) -> None:
    """espeak-ng is robotic; Whisper still gets (nearly) every word of a clear sentence."""
    text = SENTENCES[3]
    heard = words((await stt.transcribe(speak(text, using="espeak"), language="en")).text)
    expected = words(text)
    assert len(set(heard) & set(expected)) >= len(expected) - 1


async def test_short_window_hears_what_the_full_window_hears(speech: dict[str, bytes]) -> None:
    """The 10 s encoder window is a speed-up only: the 30 s window gives the same words."""
    full = WhisperSTT(language="en", min_window_s=30)
    try:
        text = SENTENCES[-1]
        transcript = await full.transcribe(speech[text])  # the instance's language applies
        assert words(transcript.text) == words(text) and transcript.language == "en"
    finally:
        full.close()


async def test_padding_and_language_detection(stt: WhisperSTT) -> None:
    utterance = padded(SENTENCES[2], lead_ms=500, trail_ms=1500)
    detected = await stt.transcribe(utterance.pcm16)
    assert detected.language == "en" and words(detected.text) == words(SENTENCES[2])


async def test_silence_and_empty_audio_give_no_words(stt: WhisperSTT) -> None:
    assert (await stt.transcribe(b"")).text == ""
    assert (await stt.transcribe(b"\x01")).text == ""  # half a sample is no audio
    assert (await stt.transcribe(bytes(2 * 16_000 * 2))).text == ""
    hiss = np.random.default_rng(3).normal(0, 300, 16_000).astype("<i2").tobytes()
    assert (await stt.transcribe(hiss)).text == ""


async def test_concurrent_calls_are_safe(stt: WhisperSTT, speech: dict[str, bytes]) -> None:
    texts = list(speech)[:3]
    results = await asyncio.gather(*(stt.transcribe(speech[t], language="en") for t in texts))
    assert [words(r.text) for r in results] == [words(t) for t in texts]


async def test_long_audio_uses_the_sliding_window(stt: WhisperSTT) -> None:
    utterance = padded(SENTENCES[1], lead_ms=500, trail_ms=31_000)
    transcript = await stt.transcribe(utterance.pcm16, language="en")
    assert words(transcript.text) == words(SENTENCES[1])


async def test_unknown_language_is_a_clear_error(stt: WhisperSTT) -> None:
    with pytest.raises(EngineFailure, match="does not know the language 'klingon'") as info:
        await stt.transcribe(bytes(3200), language="klingon")
    assert "ISO-639-1" in info.value.hint


async def test_warm_up_loads_once(stt: WhisperSTT) -> None:
    fresh = WhisperSTT()
    assert not fresh.loaded  # construction is cheap; loading waits for load()/warm_up()
    fresh.close()
    model = stt._model
    await stt.warm_up()
    assert stt.loaded and stt._model is model


async def test_queue_waits_are_reported_per_job(speech: dict[str, bytes]) -> None:
    """One worker, three clips at once: each job reports its wait; the later ones waited."""
    engine = WhisperSTT(workers=1)
    waits: list[float] = []
    engine.on_queue_wait = waits.append
    try:
        texts = list(speech)[:3]
        await asyncio.gather(*(engine.transcribe(speech[t], language="en") for t in texts))
    finally:
        engine.close()
    assert len(waits) == 3
    assert min(waits) >= 0
    assert sorted(waits)[-1] > 0  # queued behind a whole transcription


NAMED = "Please book a table for Siobhan Nakashima at Quetzalcoatl tonight."


@pytest.mark.conformance(
    "audio.input.transcription.keywords",
    status="supported",
    client="none",
    transport="in-process",
    note="Whisper hears rare names it missed without them (engine level)",
)
async def test_keywords_bring_rare_names_the_decoder_would_miss(stt: WhisperSTT) -> None:
    pcm = speak(NAMED)
    plain = (await stt.transcribe(pcm, language="en")).text
    hints = TranscriptionHints(keywords=("Siobhan Nakashima", "Quetzalcoatl"))
    biased = (await stt.transcribe(pcm, language="en", hints=hints)).text
    assert "Siobhan" not in plain  # without help Whisper base spells it as it sounds
    assert words(biased) == words(NAMED)


async def test_a_long_keyword_list_leaves_the_transcript_its_room(stt: WhisperSTT) -> None:
    """The context counts against the decoder's length limit; it must not cut the text."""
    others = "Aoife Kowalczyk Reykjavik Oyelaran Zephyrion Niamh Przybylski Vexlora Ouagadougou"
    keywords = ("Siobhan", "Nakashima", "Quetzalcoatl", *others.split(), *others.lower().split())
    heard = await stt.transcribe(
        speak(NAMED), language="en", hints=TranscriptionHints(keywords=keywords)
    )
    assert words(heard.text) == words(NAMED)


async def test_a_megabyte_of_keywords_is_cut_to_the_newest_context(stt: WhisperSTT) -> None:
    keywords = ("Quetzalcoatl",) * 80_000 + ("Siobhan Nakashima",)  # ~1.1 MB of text
    heard = await stt.transcribe(
        speak(NAMED), language="en", hints=TranscriptionHints(keywords=keywords)
    )
    assert words(heard.text) == words(NAMED)


@pytest.mark.conformance(
    "include=item.input_audio_transcription.logprobs",
    status="supported",
    client="none",
    transport="in-process",
    note="Whisper's own per-token logprobs (engine level)",
)
async def test_logprobs_are_the_decoders_for_each_token(stt: WhisperSTT) -> None:
    text = SENTENCES[0]
    heard = await stt.transcribe(
        speak(text), language="en", hints=TranscriptionHints(logprobs=True)
    )
    assert heard.logprobs is not None and len(heard.logprobs) >= len(words(text))
    # The tokens are the transcript, byte for byte (Whisper's leading space aside).
    assert b"".join(lp.bytes for lp in heard.logprobs).decode().strip() == heard.text
    assert all(lp.logprob <= 0 for lp in heard.logprobs)
    # Clear synthetic speech: the decoder was sure of nearly every token.
    assert np.mean([lp.logprob for lp in heard.logprobs]) > -0.5
    plain = await stt.transcribe(speak(text), language="en")
    assert plain.logprobs is None and plain.text == heard.text


@pytest.mark.conformance(
    "audio.input.transcription.languages",
    status="supported",
    client="none",
    transport="in-process",
    note="Whisper's language detection (engine level)",
)
async def test_languages_bound_what_detection_may_choose(stt: WhisperSTT) -> None:
    pcm = speak(SENTENCES[0])
    heard = await stt.transcribe(pcm, hints=TranscriptionHints(languages=("de", "fr")))
    assert heard.language in ("de", "fr")
    assert (await stt.transcribe(pcm)).language == "en"


class _HeldEncoder:
    """The real CTranslate2 model, watched: ``encode`` waits for ``go`` before it returns,
    and every decoding call is counted (the model still does all the work it is given)."""

    def __init__(self, model: object) -> None:
        self._model = model
        self.encoding = threading.Event()
        self.go = threading.Event()
        self.decodes = 0

    def encode(self, *args: object, **kwargs: object) -> object:
        self.encoding.set()
        encoded = self._model.encode(*args, **kwargs)  # type: ignore[attr-defined]
        self.go.wait(30)
        return encoded

    def generate(self, *args: object, **kwargs: object) -> object:
        self.decodes += 1
        return self._model.generate(*args, **kwargs)  # type: ignore[attr-defined]

    def detect_language(self, *args: object, **kwargs: object) -> object:
        self.decodes += 1
        return self._model.detect_language(*args, **kwargs)  # type: ignore[attr-defined]


async def test_a_call_cancelled_while_encoding_skips_decoding(speech: dict[str, bytes]) -> None:
    """A caller that stops waiting frees the worker early: nothing is decoded for nobody,
    and the next call runs normally on the same worker."""
    engine = WhisperSTT(workers=1)
    engine.load()
    watched = _HeldEncoder(engine._model.model)
    engine._model.model = watched
    text = SENTENCES[0]
    try:
        call = asyncio.create_task(engine.transcribe(speech[text], language="en"))
        assert await asyncio.to_thread(watched.encoding.wait, 30)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        watched.go.set()  # the encoder returns after its caller left
        heard = await engine.transcribe(speech[text], language="en")
    finally:
        engine.close()
    assert watched.decodes == 1  # the second call's only
    assert words(heard.text) == words(text)
