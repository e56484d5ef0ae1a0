"""Cutting reply text into clauses for streaming TTS."""

from __future__ import annotations

from rtagents.engines.local.clauses import MAX_WORDS, split_clauses


def test_sentences_and_long_comma_clauses_are_cut() -> None:
    text = "Sure. I can book that for you, at seven tonight; would that work? Great!"
    assert split_clauses(text) == [
        "Sure.",
        "I can book that for you,",
        "at seven tonight;",
        "would that work?",
        "Great!",
    ]


def test_short_comma_runs_stay_together() -> None:
    assert split_clauses("Yes, sir, right away.") == ["Yes, sir, right away."]
    assert split_clauses("Well, okay,") == ["Well, okay,"]


def test_numbers_and_abbreviations_without_spaces_stay_whole() -> None:
    assert split_clauses("It costs 3.50 or 1,000 points.") == ["It costs 3.50 or 1,000 points."]


def test_unspeakable_pieces_are_dropped() -> None:
    assert split_clauses("") == [] and split_clauses("  ... ?! ") == []
    assert split_clauses("Hi. ... Bye.") == ["Hi.", "Bye."]


def test_long_runs_without_punctuation_are_capped() -> None:
    text = " ".join(f"w{i}" for i in range(2 * MAX_WORDS + 5))
    clauses = split_clauses(text)
    assert [len(c.split()) for c in clauses] == [MAX_WORDS, MAX_WORDS, 5]
    assert " ".join(clauses) == text
