"""The transcription options as Whisper takes them: context text, languages, token bytes."""

from __future__ import annotations

from rtagents.engines.base import TranscriptionHints
from rtagents.engines.local.whisper_hints import _byte_decoder, context_text, pick_language


def test_keywords_come_before_the_prompt_and_blanks_are_dropped() -> None:
    hints = TranscriptionHints(
        prompt=" Booking a table. ", keywords=("Siobhan", " ", "Quetzalcoatl")
    )
    assert context_text(hints) == "Siobhan, Quetzalcoatl. Booking a table."
    assert context_text(TranscriptionHints(prompt="Only a prompt")) == "Only a prompt"
    assert context_text(None) == "" and context_text(TranscriptionHints()) == ""


def test_hints_are_falsy_when_nothing_is_asked() -> None:
    assert not TranscriptionHints()
    assert TranscriptionHints(logprobs=True) and TranscriptionHints(languages=("en",))


def test_the_language_is_the_likeliest_allowed_one() -> None:
    detected = [("<|en|>", 0.9), ("<|de|>", 0.06), ("<|fr|>", 0.04)]
    assert pick_language(detected, ()) == "en"
    assert pick_language(detected, ("fr", "de")) == "de"
    assert pick_language(detected, ("xx",)) == "en"  # none allowed was detected at all


def test_the_byte_alphabet_maps_every_byte_once() -> None:
    decoder = _byte_decoder()
    assert sorted(decoder.values()) == list(range(256))
    assert decoder["\u0120"] == ord(" ")  # the BPE's visible space
    assert bytes(decoder[c] for c in "\u0120caf\u00c3\u00a9").decode() == " café"
