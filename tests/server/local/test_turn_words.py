"""The words behind semantic_vad's wait: what reads as finished, what cannot end a turn."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtagents.server.local.turn_detection import SEMANTIC_SILENCE_MS, semantic_silence_ms
from rtagents.server.local.turn_words import (
    NEVER_LAST,
    NUMBER_WORDS,
    TRAILING_WORDS,
    transcript_state,
)


@pytest.mark.parametrize(
    "text",
    [  # what Whisper base wrote for bench/voice_latency.py's questions
        "What is the capital of friends?",
        "Can you name three colors of the rainbow?",
        "How many days are there in a week?",
        "Tell me something about the moon.",
        "What is 2 plus 2?",
        "Where does the sun rise?",
        "Where are you from?",
        "Thank you, that was exactly what I needed to know.",
        'He said "stop!"',
    ],
)
def test_finished_questions_and_statements_are_complete(text: str) -> None:
    assert transcript_state(text) == "complete"


@pytest.mark.parametrize(
    ("text", "state"),
    [  # what Whisper base wrote for the first halves of bench/pause_clips.py's sentences
        ("I would like to book a table for", "unfinished"),
        ("Could you find me A?", "unfinished"),  # a trailing article, punctuated anyway
        ("Can you send the report to?", "neutral"),  # a yes/no question cannot end so
        ("We could go to the beach or", "unfinished"),
        ("I need to pick up the kids in.", "neutral"),  # "and" heard as "in"
        ("Please play that.", "neutral"),
        ("My phone number is 555.", "neutral"),
        ("Set in Alarm for 6.", "neutral"),
        ("The total came to twenty.", "neutral"),
        ("I need eggs, milk, bread.", "neutral"),
        ("We visited Paris, Rome.", "neutral"),
        ("when I get home tonight.", "neutral"),
        ("If it rains tomorrow morning.", "neutral"),
    ],
)
def test_fragments_are_never_complete(text: str, state: str) -> None:
    assert transcript_state(text) == state


def test_a_list_that_has_its_last_item_or_a_long_tail_after_the_comma_is_complete() -> None:
    assert transcript_state("I need eggs, milk and bread.") == "complete"
    assert transcript_state("Yes, I would like that very much.") == "complete"
    assert transcript_state("When does the shop open?") == "complete"  # a question, not a clause


sentences = st.lists(
    st.sampled_from(["book", "a", "table", "Paris", "five", "please", "what", "is", "it"]),
    min_size=0,
    max_size=6,
).map(" ".join)
endings = st.sampled_from(["", ".", "?", "!", '."', "?)"])
eagerness = st.sampled_from(["low", "medium", "high", "auto"])


@given(head=sentences, last=st.sampled_from(sorted(NEVER_LAST)), end=endings, e=eagerness)
def test_a_word_that_cannot_end_a_sentence_waits_the_longest(
    head: str, last: str, end: str, e: str
) -> None:
    text = f"{head} {last}{end}"
    assert semantic_silence_ms(e, text) == semantic_silence_ms(e, "and")


@given(
    head=sentences,
    last=st.sampled_from(sorted(TRAILING_WORDS | NUMBER_WORDS)),
    end=endings,
    e=eagerness,
)
def test_a_trailing_word_never_ends_a_turn_as_early_as_a_finished_sentence(
    head: str, last: str, end: str, e: str
) -> None:
    text = f"{head} {last}{end}"
    table = SEMANTIC_SILENCE_MS["medium" if e == "auto" else e]
    if end.startswith("?") and (last in NUMBER_WORDS - TRAILING_WORDS or "what" in head):
        return  # "What is two plus two?", "What is it for?": a question may end so
    assert semantic_silence_ms(e, text) >= table["neutral"]


def test_the_medium_neutral_wait_outlasts_the_pauses_of_the_premature_set() -> None:
    assert SEMANTIC_SILENCE_MS["medium"]["neutral"] > 600
