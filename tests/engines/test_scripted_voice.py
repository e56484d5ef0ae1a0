"""The tone code: what the scripted TTS says, the scripted STT hears exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtagents.engines.base import STT, TTS, EngineFailure
from rtagents.engines.scripted import (
    ALPHABET,
    MS_PER_CHAR,
    SAMPLE_RATE,
    ScriptedSTT,
    ScriptedTTS,
    decode_audio,
    scripted_speech,
    speakable,
)
from rtagents.protocol.audio import PCMA, PCMU, AudioFormat, pcm16_to_wire, wire_to_pcm16

WINDOW = int(SAMPLE_RATE * MS_PER_CHAR / 1000)
texts = st.text(alphabet=ALPHABET, min_size=1, max_size=40)


def _silence(samples: int) -> bytes:
    return b"\x00\x00" * samples


def _duration_ms(pcm16: bytes) -> float:
    return len(pcm16) / 2 / SAMPLE_RATE * 1000


async def _synthesize(text: str, speed: float = 1.0) -> list[bytes]:
    return [chunk async for chunk in ScriptedTTS().synthesize(text, voice="marin", speed=speed)]


@settings(max_examples=60, deadline=None)
@given(text=texts, lead=st.integers(0, 3 * WINDOW), trail=st.integers(0, 2 * WINDOW))
def test_speech_decodes_exactly_after_any_silence(text: str, lead: int, trail: int) -> None:
    audio = _silence(lead) + scripted_speech(text) + _silence(trail)
    assert decode_audio(audio) == text


@pytest.mark.parametrize("lead", [0, 1, 599, 600, 1199, 1200, 1201, 24_017])
@pytest.mark.parametrize("text", ["a", "aaaaaaaaaaaa", " ", "   x   ", "~~~", "Hello, world!"])
def test_repeated_characters_and_sub_window_offsets(text: str, lead: int) -> None:
    assert decode_audio(_silence(lead) + scripted_speech(text)) == text


@settings(max_examples=25, deadline=None)
@given(text=texts, lead=st.integers(0, 2 * WINDOW))
@pytest.mark.parametrize("wire", [PCMU, PCMA], ids=["pcmu", "pcma"])
def test_speech_survives_a_g711_round_trip(wire: AudioFormat, text: str, lead: int) -> None:
    sent = _silence(lead) + scripted_speech(text)
    heard = wire_to_pcm16(pcm16_to_wire(sent, SAMPLE_RATE, wire), wire, SAMPLE_RATE)
    assert decode_audio(heard) == text


@settings(max_examples=30, deadline=None)
@given(text=texts, speed=st.sampled_from([0.25, 0.5, 0.8, 1.0, 1.25, 1.5]))
def test_duration_follows_the_text_and_speed(text: str, speed: float) -> None:
    expected = len(text) * MS_PER_CHAR / speed
    assert abs(_duration_ms(scripted_speech(text, speed=speed)) - expected) <= MS_PER_CHAR
    assert _duration_ms(scripted_speech(text)) == len(text) * MS_PER_CHAR


async def test_tts_streams_word_chunks_that_join_into_the_whole() -> None:
    text = "the first audio comes before the text ends"
    chunks = await _synthesize(text)
    assert len(chunks) == len(text.split())
    assert _duration_ms(chunks[0]) == len("the ") * MS_PER_CHAR
    assert b"".join(chunks) == scripted_speech(text)


async def test_a_long_word_is_split_into_bounded_chunks() -> None:
    chunks = await _synthesize("x" * 100)
    assert max(_duration_ms(c) for c in chunks) <= 2000
    assert decode_audio(b"".join(chunks)) == "x" * 100


async def test_nothing_to_say_yields_no_audio() -> None:
    assert await _synthesize("") == []


@pytest.mark.parametrize("speed", [0.25, 0.7, 1.5])
async def test_stt_told_the_speed_decodes_faster_or_slower_speech(speed: float) -> None:
    audio = b"".join(await _synthesize("speed it up", speed=speed))
    transcript = await ScriptedSTT(speed=speed).transcribe(_silence(333) + audio)
    assert transcript.text == "speed it up"


async def test_stt_assumes_speed_one() -> None:
    transcript = await ScriptedSTT().transcribe(scripted_speech("speed it up", speed=1.5))
    assert transcript.text != "speed it up"


async def test_tts_rejects_a_speed_outside_the_ga_range() -> None:
    with pytest.raises(EngineFailure, match="speed") as caught:
        await _synthesize("hi", speed=3.0)
    assert "audio.output.speed" in caught.value.hint
    with pytest.raises(ValueError, match="between 0.25 and 1.5"):
        scripted_speech("hi", speed=0)


def test_speakable_keeps_the_length() -> None:
    assert speakable("café\tnaïve\n") == "cafe naive "
    assert speakable("日本 🎉") == "?? ?"
    assert decode_audio(scripted_speech("café 🎉")) == "cafe ?"


def test_silence_and_clicks_are_heard_as_nothing() -> None:
    assert decode_audio(b"") == ""
    assert decode_audio(_silence(SAMPLE_RATE)) == ""
    click = np.zeros(SAMPLE_RATE, dtype="<i2")
    click[1000:1100] = 20_000
    assert decode_audio(click.tobytes()) == ""


def test_noise_is_reported_not_guessed() -> None:
    rng = np.random.default_rng(7)
    noise = (rng.normal(0, 0.2, 36_000) * 32767).astype("<i2").tobytes()
    assert decode_audio(noise) == "[unintelligible audio 1.5 s]"
    assert decode_audio(scripted_speech("ok") + _silence(2000) + noise) == (
        "ok [unintelligible audio 1.5 s]"
    )


def test_separate_utterances_are_joined_with_a_space() -> None:
    audio = scripted_speech("one") + _silence(4321) + scripted_speech("two")
    assert decode_audio(audio) == "one two"


def test_an_odd_byte_and_a_cut_last_window_are_tolerated() -> None:
    audio = scripted_speech("cut")
    assert decode_audio(audio + b"\x01") == "cut"
    assert decode_audio(audio[: -2 * (WINDOW // 4)]) == "cut"


async def test_engines_implement_the_protocols() -> None:
    tts, stt = ScriptedTTS(), ScriptedSTT()
    assert isinstance(tts, TTS) and isinstance(stt, STT)
    assert tts.sample_rate == stt.sample_rate == 24_000
    transcript = await stt.transcribe(scripted_speech("hi"), language="en")
    assert (transcript.text, transcript.language) == ("hi", "en")
