"""The GA voice table and speed range of the embedded TTS engines."""

from __future__ import annotations

import pytest

from rtagents.engines.base import EngineFailure
from rtagents.engines.local import assets
from rtagents.engines.local.voices import VOICES, check_speed, voice_style

GA_VOICES = "alloy ash ballad coral echo sage shimmer verse marin cedar".split()


def test_every_ga_voice_has_a_style() -> None:
    assert sorted(VOICES) == sorted(GA_VOICES)
    for name in GA_VOICES:
        style = voice_style(name)
        assert 0.92 <= style.pitch <= 1.08 and 0 <= style.espeak_pitch <= 100


def test_styles_are_distinct() -> None:
    assert len({(s.pitch, s.espeak_variant) for s in VOICES.values()}) == len(VOICES)


def test_espeak_variants_exist_in_the_packaged_data() -> None:
    _, data = assets.espeak_paths()
    for style in VOICES.values():
        assert (data / "voices" / "!v" / style.espeak_variant).is_file()


def test_unknown_voice_lists_the_choices() -> None:
    with pytest.raises(EngineFailure) as info:
        voice_style("Alloy")
    assert "Unknown voice 'Alloy'" in str(info.value) and "alloy, ash" in str(info.value)


@pytest.mark.parametrize("speed", [0.25, 1.0, 1.5])
def test_ga_speeds_pass(speed: float) -> None:
    assert check_speed(speed) == speed


@pytest.mark.parametrize("speed", [0.2, 1.6, float("nan")])
def test_other_speeds_fail(speed: float) -> None:
    with pytest.raises(EngineFailure, match="outside 0.25..1.5"):
        check_speed(speed)


def test_the_engines_say_which_voices_they_speak() -> None:
    from rtagents.engines.base import GA_VOICES as BASE_GA_VOICES
    from rtagents.engines.base import speakable_voices
    from rtagents.engines.local.espeak_tts import EspeakTTS, FallbackTTS
    from rtagents.engines.local.piper_tts import PiperTTS
    from rtagents.engines.scripted_voice import ScriptedTTS

    assert list(BASE_GA_VOICES) == GA_VOICES
    for tts in (PiperTTS(), EspeakTTS(), FallbackTTS(PiperTTS(), EspeakTTS()), ScriptedTTS()):
        assert speakable_voices(tts) == tuple(GA_VOICES)
    assert speakable_voices(object()) is None  # an engine that cannot say is not checked
