"""Where a spoken message is cut into speech: clause ends, and the short first speech."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rtagents.server.local.response_output import (
    CLAUSE_ENDS,
    FIRST_SPEECH_WORDS,
    MAX_CLAUSE_CHARS,
    speech_cut,
)


def spoken_pieces(deltas: list[str]) -> list[str]:
    """What the writer speaks for these LLM deltas, in order (its loop, then the flush)."""
    pieces: list[str] = []
    pending = ""
    for delta in deltas:
        pending += delta
        cut = speech_cut(pending, first=not pieces)
        if cut:
            pieces.append(pending[:cut])
            pending = pending[cut:]
    return [*pieces, pending] if pending else pieces


def test_the_first_speech_is_its_first_words_once_the_next_word_began() -> None:
    deltas = ["The", " capital", " of", " France", " is", " Paris", "."]
    assert spoken_pieces(deltas) == ["The capital of", " France is Paris."]


def test_a_clause_that_ends_sooner_is_spoken_whole() -> None:
    assert spoken_pieces(["Yes", ",", " it", " is", " Paris", "."]) == ["Yes,", " it is Paris."]


def test_only_the_first_speech_is_cut_by_words() -> None:
    assert speech_cut("Then we go home", first=False) == 0
    assert speech_cut("Then we go home", first=True) == len("Then we go")


def test_a_word_still_arriving_is_never_cut() -> None:
    # "of" may yet become "often": only the start of a next word completes it.
    assert speech_cut("The capital of", first=True) == 0
    assert speech_cut("The capital of ", first=True) == 0


def test_blank_text_waits_and_a_long_run_is_spoken() -> None:
    assert speech_cut("   ", first=True) == 0
    assert speech_cut("x" * MAX_CLAUSE_CHARS, first=False) == MAX_CLAUSE_CHARS


words = st.text(alphabet="abcdefg", min_size=1, max_size=6)
tokens = st.lists(
    st.tuples(st.sampled_from(["", " ", "  "]), words, st.sampled_from(["", "", ",", "."])),
    min_size=1,
    max_size=30,
)


@given(tokens)
def test_cutting_never_loses_reorders_or_splits_words(parts: list[tuple[str, str, str]]) -> None:
    deltas = [space + word + mark for space, word, mark in parts]
    text = "".join(deltas)
    pieces = spoken_pieces(deltas)
    assert "".join(pieces) == text  # nothing lost, added or reordered
    for piece, after in zip(pieces, pieces[1:], strict=False):
        # A cut falls between words (before whitespace, or after a clause end), or
        # where a run without either reached the length cap.
        between_words = after[0].isspace() or piece.rstrip()[-1] in CLAUSE_ENDS
        assert between_words or len(piece) >= MAX_CLAUSE_CHARS
    first = pieces[0]
    ends_clause = first.rstrip()[-1:] in CLAUSE_ENDS
    if len(pieces) > 1 and not ends_clause and len(first) < MAX_CLAUSE_CHARS:
        assert len(first.split()) == FIRST_SPEECH_WORDS
