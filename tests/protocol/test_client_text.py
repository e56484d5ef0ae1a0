"""Client text is quoted on one line, cut to a bound, with its original length noted."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rtagents.protocol.client_text import loggable, one_line, quoted

FORGED = "x\n05:00:00.000 CRITICAL sess_FAKE forged log line"
# Characters that end a line, move the cursor or break a UTF-8 stream somewhere.
HOSTILE = ["\n", "\r", "\x1b", "\x00", "\x07", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\u202e"]


@pytest.mark.parametrize("char", HOSTILE)
def test_each_hostile_character_is_escaped_visibly(char: str) -> None:
    for shown in (quoted(f"a{char}b"), loggable(f"a{char}b"), one_line(f"a{char}b")):
        assert char not in shown
        assert "\\" in shown
        assert shown.isprintable()


def test_a_forged_log_line_stays_on_one_line() -> None:
    assert quoted(FORGED) == repr(FORGED)
    assert "\n" not in quoted(FORGED)
    assert one_line(FORGED) == "x\\n05:00:00.000 CRITICAL sess_FAKE forged log line"


def test_a_lone_surrogate_is_escaped_so_the_line_encodes_as_utf8() -> None:
    for shown in (quoted("a\ud800"), loggable("a\ud800"), one_line("a\ud800")):
        shown.encode("utf-8")
        assert "\\ud800" in shown


def test_a_long_text_is_cut_and_its_length_noted() -> None:
    huge = "t" * 1_048_576
    assert quoted(huge, 3) == "'ttt…' (1048576 chars)"
    assert loggable(huge, 3) == "'ttt…' (1048576 chars)"
    assert one_line(huge, 3) == "ttt… (1048576 chars)"
    assert len(quoted(huge)) < 250


def test_text_at_the_limit_is_not_cut() -> None:
    assert quoted("abc", 3) == "'abc'"
    assert one_line("abc", 3) == "abc"
    assert loggable("abc", 3) == "abc"


def test_a_cut_keeps_the_escapes_of_the_part_shown() -> None:
    assert quoted("\n" * 10, 2) == "'\\n\\n…' (10 chars)"
    assert one_line("a\nb" * 10, 3) == "a\\nb… (30 chars)"


def test_backslashes_and_quotes_read_back_unambiguously() -> None:
    tricky = "a\\nb'c\"d"
    assert quoted(tricky) == repr(tricky)


def test_printable_short_text_is_loggable_as_it_is() -> None:
    assert loggable("evt_1") == "evt_1"
    assert loggable("session.update") == "session.update"
    assert one_line("a message with spaces") == "a message with spaces"


def test_an_empty_string_is_quoted_visibly() -> None:
    assert quoted("") == "''"
    assert loggable("") == ""
    assert quoted("abc", 0) == "'…' (3 chars)"


def test_a_str_subclass_cannot_choose_its_own_repr() -> None:
    class Sneaky(str):
        def __repr__(self) -> str:
            return "\nforged"

    assert quoted(Sneaky("a")) == "'a'"


@pytest.mark.parametrize("function", [quoted, loggable, one_line])
def test_a_negative_limit_is_refused(function: Callable[[str, int], str]) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        function("a", -1)
