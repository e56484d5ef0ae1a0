"""Per-item state and the transcript cut applied on truncation."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rtagents.protocol.conversation import Conversation
from rtagents.protocol.items import ItemState, cut_transcript

SECOND = 48_000  # bytes of 24 kHz PCM16


def test_deltas_whose_audio_starts_after_the_cut_are_dropped() -> None:
    marks = [(0.0, 0), (1000.0, 6), (2000.0, 12)]
    text = "Hello there world"
    assert cut_transcript(text, marks, 3000.0, 2000) == "Hello there "
    assert cut_transcript(text, marks, 3000.0, 1000) == "Hello "


def test_the_delta_playing_at_the_cut_is_kept_in_proportion() -> None:
    marks = [(0.0, 0), (1000.0, 10)]
    assert cut_transcript("0123456789abcdefghij", marks, 2000.0, 1500) == "0123456789abcde"


def test_cut_at_zero_keeps_nothing_and_past_the_end_keeps_all() -> None:
    marks = [(0.0, 0)]
    assert cut_transcript("words", marks, 1000.0, 0) == ""
    assert cut_transcript("words", marks, 1000.0, 1000) == "words"
    assert cut_transcript("words", marks, 1000.0, 5000) == "words"


def test_text_before_the_first_audio_mark() -> None:
    # First delta arrived after 500 ms of audio: nothing of it was heard at 400 ms.
    assert cut_transcript("abcdef", [(500.0, 0), (800.0, 3)], 1000.0, 400) == ""


def test_marks_without_timing_fall_back_to_even_speech() -> None:
    # The whole transcript arrived after the audio: spread it over the audio.
    marks = [(1000.0, 0), (1000.0, 5)]
    assert cut_transcript("abcdefghij", marks, 1000.0, 500) == "abcde"
    assert cut_transcript("abcdefghij", [], 1000.0, 250) == "ab"


def test_offsets_beyond_the_text_are_clamped() -> None:
    assert cut_transcript("abc", [(0.0, 0), (500.0, 10)], 1000.0, 750) == "abc"


@given(
    text=st.text(max_size=40),
    cuts=st.lists(st.floats(min_value=0, max_value=2000, allow_nan=False), min_size=2, max_size=2),
    marks=st.lists(st.tuples(st.floats(0, 1000, allow_nan=False), st.integers(0, 40)), max_size=6),
)
def test_a_cut_is_a_prefix_and_monotonic(
    text: str, cuts: list[float], marks: list[tuple[float, int]]
) -> None:
    marks = sorted(marks)
    early, late = sorted(cuts)
    shorter = cut_transcript(text, marks, 1000.0, early)
    longer = cut_transcript(text, marks, 1000.0, late)
    assert text.startswith(longer) and longer.startswith(shorter)


def truncation_setup(ev: Any) -> Conversation:
    conv = Conversation()
    conv.apply(ev.added(ev.assistant("a1")))
    for word in ("One ", "two ", "three."):
        conv.apply(ev.transcript_delta("a1", word))
        conv.apply(ev.audio_delta("a1", SECOND))
    return conv


def test_truncation_drops_exactly_the_unheard_deltas(server_events: Any) -> None:
    ev = server_events
    conv = truncation_setup(ev)
    conv.apply(ev.truncated("a1", 2000))
    assert conv.transcript("a1") == "One two "
    assert conv.get("a1").content[0].transcript == "One two "  # type: ignore[union-attr]
    assert conv.truncated_ms("a1") == 2000
    assert conv.audio_ms("a1") == 3000.0  # produced audio is not rewritten


def test_words_after_a_truncation_were_never_heard(server_events: Any) -> None:
    ev = server_events
    conv = truncation_setup(ev)
    conv.apply(ev.truncated("a1", 1000))
    conv.apply(ev.transcript_delta("a1", " four"))
    conv.apply(ev.transcript_done("a1", "One two three. four"))
    conv.apply(ev.part_done("a1", "audio", transcript="One two three. four"))
    conv.apply(ev.done(ev.assistant("a1", status="incomplete")))
    assert conv.get("a1").content[0].transcript == "One "  # type: ignore[union-attr]


def test_truncating_an_item_that_arrived_whole(server_events: Any) -> None:
    """After a resume the item may arrive with its transcript and no deltas."""
    from openai.types.realtime import RealtimeConversationItemAssistantMessage

    ev, conv = server_events, Conversation()
    item = RealtimeConversationItemAssistantMessage(
        id="a1",
        type="message",
        role="assistant",
        content=[{"type": "output_audio", "transcript": "abcdefghij"}],
    )
    conv.apply(ev.added(item))
    conv.apply(ev.audio_delta("a1", SECOND))
    conv.apply(ev.truncated("a1", 300))
    assert conv.transcript("a1") == "abc"


def test_truncating_an_item_without_transcript_records_the_cut(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.added(ev.assistant("a1")))
    conv.apply(ev.truncated("a1", 0))
    assert conv.truncated_ms("a1") == 0 and conv.transcript("a1") == ""


def test_state_before_any_item_has_no_model() -> None:
    state = ItemState()
    assert state.model() is None and state.transcript() == ""
    state.append(0, "text", "hi", "output_text")
    state.append(1, "transcript", "there", "output_audio")
    assert state.transcript() == "hi there"


def test_deltas_accumulate_across_reads_without_losing_order(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.added(ev.call("c1")))
    conv.apply(ev.added(ev.assistant("a1")))
    words = [f"w{i} " for i in range(50)]
    for index, word in enumerate(words):
        conv.apply(ev.text_delta("a1", word))
        conv.apply(ev.args_delta("c1", str(index % 10)))
        if index in (0, 7, 30):  # a read in between joins what came so far
            assert conv.transcript("a1") == "".join(words[: index + 1])
    assert conv.transcript("a1") == "".join(words)
    assert getattr(conv.get("c1"), "arguments", None) == "0123456789" * 5


def test_transcript_marks_count_characters_of_every_delta() -> None:
    state = ItemState()
    for delta in ("ab", "", "cde"):
        state.add_transcript_delta(0, delta)
    assert state.marks[0] == [(0.0, 0), (0.0, 2), (0.0, 2)]
    assert state.transcript() == "abcde"


def test_a_part_that_changed_type_starts_over(server_events: Any) -> None:
    """A rebuild replays assistant audio as output_text: the new item is what the server
    holds, so the audio transcript built from deltas must not stick to the text part."""
    from openai.types.realtime import RealtimeConversationItemAssistantMessage

    ev, conv = server_events, truncation_setup(server_events)
    replayed = RealtimeConversationItemAssistantMessage(
        id="a1",
        type="message",
        role="assistant",
        status="completed",
        content=[{"type": "output_text", "text": "One two three."}],
    )
    conv.apply(ev.added(replayed))
    part = conv.get("a1").content[0]  # type: ignore[union-attr]
    assert part.type == "output_text" and part.text == "One two three."
    assert part.transcript is None
    conv.apply(ev.added(replayed))  # the same type again changes nothing
    assert conv.get("a1").content[0] == part  # type: ignore[union-attr]
