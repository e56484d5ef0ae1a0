"""Wire audio formats, G.711 codecs, resampling and base64 helpers."""

from __future__ import annotations

import base64
import binascii
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai.types.realtime.realtime_audio_formats import AudioPCM, AudioPCMA, AudioPCMU

from rtagents.protocol.audio import (
    PCM16_24K,
    PCMA,
    PCMU,
    AudioFormat,
    alaw_decode,
    alaw_encode,
    b64_decoded_length,
    b64decode_audio,
    b64encode_audio,
    float32_to_pcm16,
    mulaw_decode,
    mulaw_encode,
    pcm16_to_float32,
    pcm16_to_wire,
    resample_pcm16,
    wire_to_pcm16,
)
from rtagents.protocol.errors import RemoteProtocolError

ALL_SAMPLES = np.arange(-32768, 32768, dtype="<i2")
pcm16_bytes = st.lists(st.integers(-32768, 32767), max_size=200).map(
    lambda xs: np.array(xs, dtype="<i2").tobytes()
)


def tone(freq: float, rate: int, seconds: float = 0.1, amplitude: float = 0.5) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return float32_to_pcm16(amplitude * np.sin(2 * np.pi * freq * t))


# --- formats ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (None, PCM16_24K),
        ({"type": "audio/pcm", "rate": 24000}, PCM16_24K),
        ({"type": "audio/pcm"}, PCM16_24K),
        ({"rate": 16000}, AudioFormat("pcm16", 16000)),
        ({"type": "audio/pcmu"}, PCMU),
        ({"type": "audio/pcma"}, PCMA),
        (AudioPCM(type="audio/pcm", rate=24000), PCM16_24K),
        (AudioPCMU(type="audio/pcmu"), PCMU),
        (AudioPCMA(type="audio/pcma"), PCMA),
    ],
)
def test_from_wire(wire: object, expected: AudioFormat) -> None:
    assert AudioFormat.from_wire(wire) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("wire", "param"),
    [
        ({"type": "pcm16"}, "format.type"),
        ({"type": 3}, "format.type"),
        ({"type": "audio/pcm", "rate": "24000"}, "format.rate"),
        ({"type": "audio/pcm", "rate": 0}, "format.rate"),
        ({"type": "audio/pcm", "rate": True}, "format.rate"),
    ],
)
def test_from_wire_rejects_unknown_shapes(wire: dict[str, object], param: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        AudioFormat.from_wire(wire)
    assert info.value.code == "invalid_value" and info.value.param == param


def test_to_wire_round_trips() -> None:
    assert PCM16_24K.to_wire() == {"type": "audio/pcm", "rate": 24000}
    assert PCMU.to_wire() == {"type": "audio/pcmu"}
    for fmt in (PCM16_24K, PCMU, PCMA):
        assert AudioFormat.from_wire(fmt.to_wire()) == fmt


def test_invalid_formats_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="encoding"):
        AudioFormat("opus", 48000)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        AudioFormat("pcm16", 0)


def test_durations() -> None:
    assert PCM16_24K.bytes_per_second == 48000 and PCMU.bytes_per_second == 8000
    assert PCM16_24K.duration_ms(4800) == 100.0 and PCMA.duration_ms(800) == 100.0
    assert PCM16_24K.bytes_for_ms(50) == 2400 and PCMU.bytes_for_ms(12.5) == 100
    assert PCM16_24K.bytes_for_ms(0.03) == 0  # less than one sample


@pytest.mark.parametrize("ms", [-1.0, math.nan])
def test_bytes_for_ms_rejects_nonsense(ms: float) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        PCM16_24K.bytes_for_ms(ms)


@given(
    fmt=st.sampled_from([PCM16_24K, PCMU, PCMA, AudioFormat("pcm16", 16000)]),
    samples=st.integers(0, 10_000_000),
)
def test_duration_arithmetic_round_trips(fmt: AudioFormat, samples: int) -> None:
    nbytes = samples * fmt.sample_width
    assert fmt.bytes_for_ms(fmt.duration_ms(nbytes)) == nbytes


@given(fmt=st.sampled_from([PCM16_24K, PCMU]), ms=st.floats(0, 1e7, allow_nan=False))
def test_bytes_for_ms_holds_whole_samples_within_the_duration(fmt: AudioFormat, ms: float) -> None:
    nbytes = fmt.bytes_for_ms(ms)
    assert nbytes % fmt.sample_width == 0
    sample_ms = 1000.0 / fmt.sample_rate
    assert ms - sample_ms - 1e-3 <= fmt.duration_ms(nbytes) <= ms + 1e-3


# --- G.711 -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("encode", "decode"), [(mulaw_encode, mulaw_decode), (alaw_encode, alaw_decode)]
)
def test_g711_error_is_bounded_for_every_sample(encode, decode) -> None:  # type: ignore[no-untyped-def]
    encoded = encode(ALL_SAMPLES.tobytes())
    assert len(encoded) == len(ALL_SAMPLES)
    decoded = np.frombuffer(decode(encoded), dtype="<i2").astype(np.int64)
    error = np.abs(decoded - ALL_SAMPLES)
    # Logarithmic quantisation: the step grows with the magnitude.
    assert np.all(error <= np.abs(ALL_SAMPLES.astype(np.int64)) / 16 + 8)


@pytest.mark.parametrize(
    ("encode", "decode"), [(mulaw_encode, mulaw_decode), (alaw_encode, alaw_decode)]
)
def test_g711_decode_then_encode_is_identity(encode, decode) -> None:  # type: ignore[no-untyped-def]
    codes = bytes(range(256))
    decoded = decode(codes)
    again = encode(decoded)
    # Mu-law has two codes for zero (+0 and -0); every other code is stable.
    assert again == codes or mulaw_decode(again) == decoded


def test_known_g711_codes() -> None:
    silence = np.zeros(3, dtype="<i2").tobytes()
    assert mulaw_encode(silence) == b"\xff\xff\xff"
    assert alaw_encode(silence) == b"\xd5\xd5\xd5"
    assert mulaw_decode(b"\x00") == np.array([-32124], dtype="<i2").tobytes()
    assert alaw_decode(b"\x2a") == np.array([-32256], dtype="<i2").tobytes()


@given(pcm=pcm16_bytes)
def test_g711_round_trip_property(pcm: bytes) -> None:
    original = np.frombuffer(pcm, dtype="<i2").astype(np.int64)
    for encode, decode in ((mulaw_encode, mulaw_decode), (alaw_encode, alaw_decode)):
        back = np.frombuffer(decode(encode(pcm)), dtype="<i2").astype(np.int64)
        assert np.all(np.abs(back - original) <= np.abs(original) / 16 + 8)


@pytest.mark.parametrize("func", [mulaw_encode, alaw_encode, pcm16_to_float32])
def test_odd_length_pcm16_is_a_clear_error(func) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="whole 2-byte samples; got 3 bytes"):
        func(b"\x00\x01\x02")


# --- resampling --------------------------------------------------------------


def dominant_frequency(pcm: bytes, rate: int) -> float:
    samples = pcm16_to_float32(pcm)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


@pytest.mark.parametrize(("src", "dst"), [(24000, 8000), (8000, 24000), (24000, 16000)])
def test_resampling_keeps_pitch_and_duration(src: int, dst: int) -> None:
    out = resample_pcm16(tone(440, src), src, dst)
    assert len(out) == 2 * int(dst * 0.1)
    assert dominant_frequency(out, dst) == pytest.approx(440, abs=15)


def test_downsampling_suppresses_what_cannot_be_represented() -> None:
    out = resample_pcm16(tone(7000, 24000), 24000, 8000)  # above the 4 kHz limit
    assert np.abs(pcm16_to_float32(out)).max() < 0.25


def test_resampling_edge_cases() -> None:
    assert resample_pcm16(b"", 24000, 8000) == b""
    assert resample_pcm16(b"\x01\x00", 24000, 24000) == b"\x01\x00"
    assert len(resample_pcm16(b"\x01\x00", 24000, 8000)) == 2
    with pytest.raises(ValueError, match="positive"):
        resample_pcm16(b"", 0, 8000)


@pytest.mark.parametrize("fmt", [PCM16_24K, PCMU, PCMA])
def test_wire_conversion_round_trips(fmt: AudioFormat) -> None:
    pcm = tone(300, 24000)
    wire = pcm16_to_wire(pcm, 24000, fmt)
    assert len(wire) == fmt.bytes_for_ms(100)
    back = wire_to_pcm16(wire, fmt, 24000)
    assert len(back) == len(pcm)
    assert dominant_frequency(back, 24000) == pytest.approx(300, abs=15)


# --- float conversion and base64 ---------------------------------------------


@given(pcm=pcm16_bytes)
def test_float_conversion_is_exact(pcm: bytes) -> None:
    samples = pcm16_to_float32(pcm)
    assert samples.dtype == np.float32 and np.all(np.abs(samples) <= 1.0)
    assert float32_to_pcm16(samples) == pcm


def test_float_conversion_clips() -> None:
    assert float32_to_pcm16(np.array([2.0, -2.0])) == np.array([32767, -32768], "<i2").tobytes()


@given(data=st.binary(max_size=300))
def test_base64_round_trip_and_length(data: bytes) -> None:
    text = b64encode_audio(data)
    assert text == base64.b64encode(data).decode()
    assert b64decode_audio(text) == data
    assert b64_decoded_length(text) == len(data)


def test_decoded_length_of_unpadded_text() -> None:
    assert b64_decoded_length("QQ") == 1 and b64_decoded_length("") == 0
    assert b64_decoded_length("=") == 0 and b64_decoded_length("==") == 0  # never negative


_B64_TEXT = st.text(
    alphabet=st.sampled_from(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/====  \n-_.\x00é"
    ),
    max_size=24,
)


@given(
    text=st.one_of(_B64_TEXT, st.binary(max_size=18).map(lambda b: base64.b64encode(b).decode()))
)
def test_decoding_accepts_and_refuses_exactly_what_binascii_strict_mode_does(text: str) -> None:
    """The SIMD decoder is a fast path only: strict mode stays the judge, byte for byte."""
    try:
        expected: bytes | None = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        expected = None
    if expected is None:
        with pytest.raises(RemoteProtocolError):
            b64decode_audio(text)
    else:
        assert b64decode_audio(text) == expected


def test_a_padding_only_strict_mode_accepts_still_decodes() -> None:
    assert b64decode_audio("QUAZ=") == b"A@\x19"  # pybase64 refuses it; binascii decides


@pytest.mark.parametrize("text", ["abc", "ab!=", "QQ==QQ==", "é", "QQ= ="])
def test_bad_base64_names_the_field(text: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        b64decode_audio(text, param="delta")
    error = info.value
    assert error.code == "invalid_value" and error.param == "delta"
    assert "'delta' is not valid base64" in error.message and "base64" in error.message
