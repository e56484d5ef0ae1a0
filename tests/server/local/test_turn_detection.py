"""The turn detection state machine on its own: exact audio-time arithmetic."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtagents.engines.base import SpeechProbability
from rtagents.server.local.turn_detection import (
    QUIET_TAIL_MS,
    SEMANTIC_SILENCE_MS,
    IdleTimeout,
    SilenceBegan,
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
    TurnEvent,
    TurnSettings,
    semantic_silence_ms,
    transcript_state,
)

STEP = 10.0  # ms per window, as the energy VAD scores


def windows(
    pattern: Sequence[tuple[float, int]], *, start_ms: float = 0.0
) -> list[SpeechProbability]:
    """(probability, duration ms) runs -> back-to-back windows of STEP ms."""
    out = []
    at = start_ms
    for probability, duration in pattern:
        for _ in range(int(duration // STEP)):
            out.append(SpeechProbability(start_ms=at, end_ms=at + STEP, probability=probability))
            at += STEP
    return out


SERVER_VAD = TurnSettings(mode="server_vad")


def test_server_vad_turn_with_exact_ms() -> None:
    detector = TurnDetector(SERVER_VAD)
    events = detector.feed(windows([(0.0, 500), (1.0, 600), (0.0, 1000)]))
    assert events == [
        SpeechStarted(audio_start_ms=200, onset_ms=500.0),
        SilenceBegan(speech_end_ms=1100.0, audio_start_ms=200),
        SpeechStopped(
            audio_start_ms=200, audio_end_ms=1100, speech_end_ms=1100.0, decided_ms=1600.0
        ),
    ]
    assert not detector.speaking


def test_prefix_padding_is_clamped_at_zero_and_at_the_buffer_start() -> None:
    detector = TurnDetector(SERVER_VAD)
    first = detector.feed(windows([(0.0, 100), (1.0, 200), (0.0, 500)]))
    assert first[0] == SpeechStarted(audio_start_ms=0, onset_ms=100.0)
    assert isinstance(first[-1], SpeechStopped) and first[-1].decided_ms == 800.0
    # The next turn starts 100 ms after the last commit: padding stops there.
    second = detector.feed(windows([(0.0, 100), (1.0, 100)], start_ms=800.0))
    assert second == [SpeechStarted(audio_start_ms=800, onset_ms=900.0)]


def test_a_pause_shorter_than_the_silence_window_does_not_end_the_turn() -> None:
    detector = TurnDetector(TurnSettings(mode="server_vad", silence_duration_ms=300))
    events = detector.feed(windows([(1.0, 200), (0.0, 290), (1.0, 100), (0.0, 300)]))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["SpeechStarted", "SilenceBegan", "SilenceBegan", "SpeechStopped"]
    assert events[-1] == SpeechStopped(
        audio_start_ms=0, audio_end_ms=590, speech_end_ms=590.0, decided_ms=890.0
    )


def test_threshold_decides_what_is_speech() -> None:
    quiet = windows([(0.0, 100), (0.4, 200), (0.0, 600)])
    assert TurnDetector(SERVER_VAD).feed(quiet) == []
    lenient = TurnDetector(TurnSettings(mode="server_vad", threshold=0.3))
    assert [type(e) for e in lenient.feed(quiet)] == [SpeechStarted, SilenceBegan, SpeechStopped]


def test_zero_silence_ends_the_turn_on_the_first_quiet_window() -> None:
    detector = TurnDetector(TurnSettings(mode="server_vad", silence_duration_ms=0))
    events = detector.feed(windows([(1.0, 50), (0.0, 10)]))
    assert events[-1] == SpeechStopped(
        audio_start_ms=0, audio_end_ms=50, speech_end_ms=50.0, decided_ms=60.0
    )


def test_unaligned_window_times_round_to_whole_ms() -> None:
    detector = TurnDetector(TurnSettings(mode="server_vad", prefix_padding_ms=0))
    events = detector.feed(
        [
            SpeechProbability(start_ms=0.0, end_ms=32.0, probability=0.0),
            SpeechProbability(start_ms=32.0, end_ms=64.0, probability=0.9),
            *[
                SpeechProbability(start_ms=64.0 + 32 * i, end_ms=96.0 + 32 * i, probability=0.1)
                for i in range(16)
            ],
        ]
    )
    assert events[0] == SpeechStarted(audio_start_ms=32, onset_ms=32.0)
    assert events[-1] == SpeechStopped(
        audio_start_ms=32, audio_end_ms=64, speech_end_ms=64.0, decided_ms=576.0
    )


def test_idle_timeout_counts_from_the_end_of_playback() -> None:
    detector = TurnDetector(TurnSettings(mode="server_vad", idle_timeout_ms=1000))
    detector.response_started()  # a reply is being made: no timeout meanwhile
    assert detector.feed(windows([(0.0, 2000)])) == []
    detector.response_finished(playback_end_ms=2500.0)  # its audio plays until 2500 ms
    assert detector.feed(windows([(0.0, 1490)], start_ms=2000.0)) == []
    assert detector.feed(windows([(0.0, 10)], start_ms=3490.0)) == [
        IdleTimeout(audio_start_ms=2500, audio_end_ms=3500)
    ]
    # Fired once; it re-arms only when the next response has finished.
    assert detector.feed(windows([(0.0, 3000)], start_ms=3500.0)) == []


def test_speech_disarms_the_idle_timeout() -> None:
    detector = TurnDetector(TurnSettings(mode="server_vad", idle_timeout_ms=300))
    events = detector.feed(windows([(0.0, 200), (1.0, 100), (0.0, 2000)]))
    assert not any(isinstance(e, IdleTimeout) for e in events)


def test_idle_timeout_is_armed_from_the_start_of_the_stream() -> None:
    detector = TurnDetector(TurnSettings(mode="server_vad", idle_timeout_ms=500), now_ms=100.0)
    events = detector.feed(windows([(0.0, 600)], start_ms=100.0))
    assert events == [IdleTimeout(audio_start_ms=100, audio_end_ms=600)]


def test_a_manual_commit_abandons_the_turn_in_progress() -> None:
    detector = TurnDetector(SERVER_VAD)
    detector.feed(windows([(1.0, 200)]))
    detector.buffer_taken(200.0)
    assert not detector.speaking
    again = detector.feed(windows([(1.0, 10)], start_ms=200.0))
    assert again == [SpeechStarted(audio_start_ms=200, onset_ms=200.0)]


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("", "neutral"),
        ("Book me a table.", "complete"),
        ("Is it open?", "complete"),
        ('He said "stop!"', "complete"),
        ("I want to go and", "unfinished"),
        ("so um", "unfinished"),
        ("Well, I think,", "unfinished"),
        ("let me see...", "unfinished"),
        ("turn left at the", "unfinished"),
        ("Paris", "neutral"),
        ("AND", "unfinished"),
    ],
)
def test_transcript_state(text: str, state: str) -> None:
    assert transcript_state(text) == state


@pytest.mark.conformance(
    "audio.input.turn_detection[semantic_vad].eagerness=auto",
    status="supported",
    client="none",
    transport="in-process",
    note="auto waits like medium (the policy table, unit level)",
)
def test_semantic_windows_order_by_eagerness_and_completeness() -> None:
    for table in SEMANTIC_SILENCE_MS.values():
        assert table["complete"] < table["neutral"] < table["unfinished"]
    for state in ("complete", "neutral", "unfinished"):
        low, medium, high = (SEMANTIC_SILENCE_MS[e][state] for e in ("low", "medium", "high"))  # type: ignore[index]
        assert low > medium > high
    assert [SEMANTIC_SILENCE_MS[e]["unfinished"] for e in ("low", "medium", "high")] == [
        8000,
        4000,
        2000,
    ]
    assert semantic_silence_ms("auto", "x.") == SEMANTIC_SILENCE_MS["medium"]["complete"]


@pytest.mark.parametrize("eagerness", ["low", "medium", "high"])
@pytest.mark.parametrize("text", ["Thank you.", "I would like the", "Paris"])
def test_semantic_vad_waits_the_policy_window(eagerness: str, text: str) -> None:
    settings = TurnSettings(mode="semantic_vad", eagerness=eagerness)  # type: ignore[arg-type]
    detector = TurnDetector(settings)
    detector.feed(windows([(1.0, 400)]))
    detector.transcript = text
    events = detector.feed(windows([(0.0, 9000)], start_ms=400.0))
    stopped = events[-1]
    assert isinstance(stopped, SpeechStopped)
    assert stopped.decided_ms - stopped.speech_end_ms == semantic_silence_ms(eagerness, text)


def test_semantic_vad_follows_a_transcript_that_arrives_during_the_silence() -> None:
    detector = TurnDetector(TurnSettings(mode="semantic_vad", eagerness="high"))
    detector.feed(windows([(1.0, 400), (0.0, 100)]))  # 100 ms quiet, transcript unknown
    detector.transcript = "Thanks."  # the speculative transcript is in: complete
    events = detector.feed(windows([(0.0, 100)], start_ms=500.0))
    assert events[-1] == SpeechStopped(
        audio_start_ms=0, audio_end_ms=400, speech_end_ms=400.0, decided_ms=600.0
    )


def test_settings_from_wire_fill_defaults_and_round_trip() -> None:
    assert TurnSettings.from_wire(None) is None
    server = TurnSettings.from_wire(
        {"type": "server_vad", "threshold": None, "silence_duration_ms": 800}
    )
    assert server == TurnSettings(mode="server_vad", silence_duration_ms=800)
    assert TurnSettings.from_wire(server.to_wire()) == server  # type: ignore[union-attr]
    semantic = TurnSettings.from_wire({"type": "semantic_vad", "interrupt_response": False})
    assert semantic is not None and semantic.to_wire() == {
        "type": "semantic_vad",
        "eagerness": "auto",
        "create_response": True,
        "interrupt_response": False,
    }


# --- properties over random speech/silence patterns --------------------------------

runs = st.lists(
    st.tuples(st.sampled_from([0.0, 0.2, 0.7, 1.0]), st.integers(1, 80).map(lambda n: n * 10)),
    min_size=1,
    max_size=25,
)


@pytest.mark.conformance(
    "audio.input.turn_detection[server_vad].prefix_padding_ms",
    "audio.input.turn_detection[server_vad].silence_duration_ms",
    status="supported",
    client="none",
    transport="in-process",
    note="property test over random audio, unit level",
)
@given(
    pattern=runs,
    silence=st.integers(0, 60).map(lambda n: n * 10),
    padding=st.integers(0, 50).map(lambda n: n * 10),
)
def test_turn_events_are_consistent_with_the_audio(
    pattern: list[tuple[float, int]], silence: int, padding: int
) -> None:
    settings = TurnSettings(
        mode="server_vad", silence_duration_ms=silence, prefix_padding_ms=padding
    )
    scored = windows(pattern)
    events: list[TurnEvent] = TurnDetector(settings).feed(scored)
    turns = [e for e in events if isinstance(e, SpeechStarted | SpeechStopped)]
    # Started and stopped alternate, starting with a start.
    assert all(isinstance(e, SpeechStarted) == (i % 2 == 0) for i, e in enumerate(turns))
    voiced = [w for w in scored if w.probability >= settings.threshold]
    previous_decided = 0.0
    for index in range(0, len(turns), 2):
        started = turns[index]
        assert isinstance(started, SpeechStarted)
        assert any(w.start_ms == started.onset_ms for w in voiced)
        assert started.audio_start_ms == max(started.onset_ms - padding, previous_decided, 0)
        if index + 1 == len(turns):
            break
        stopped = turns[index + 1]
        assert isinstance(stopped, SpeechStopped)
        # The end is the last voiced window's end, and the silence after it was
        # long enough (to the window) with no speech inside.
        assert any(w.end_ms == stopped.speech_end_ms for w in voiced)
        # Silences are whole windows here, so the wait is exact (one window at least).
        assert stopped.decided_ms - stopped.speech_end_ms == max(silence, STEP)
        assert not any(stopped.speech_end_ms < w.end_ms <= stopped.decided_ms for w in voiced)
        assert stopped.audio_start_ms == started.audio_start_ms
        previous_decided = stopped.decided_ms
    # The speculation point of a turn's last pause is exactly where the turn ends.
    for index, event in enumerate(events):
        if isinstance(event, SpeechStopped):
            pause = [e for e in events[:index] if isinstance(e, SilenceBegan)][-1]
            assert (pause.speech_end_ms, pause.audio_start_ms) == (
                event.speech_end_ms,
                event.audio_start_ms,
            )
    # Every voiced window belongs to a detected turn.
    spans = [
        (turns[i].onset_ms, turns[i + 1].speech_end_ms if i + 1 < len(turns) else float("inf"))  # type: ignore[union-attr]
        for i in range(0, len(turns), 2)
    ]
    assert all(any(a <= w.start_ms < b for a, b in spans) for w in voiced)


@given(pattern=runs, eagerness=st.sampled_from(["low", "medium", "high", "auto"]))
def test_semantic_stops_wait_exactly_the_policy_window(
    pattern: list[tuple[float, int]], eagerness: str
) -> None:
    settings = TurnSettings(mode="semantic_vad", eagerness=eagerness)  # type: ignore[arg-type]
    detector = TurnDetector(settings)
    detector.transcript = "and"
    for event in detector.feed(windows(pattern)):
        if isinstance(event, SpeechStopped):
            assert event.decided_ms - event.speech_end_ms == semantic_silence_ms(eagerness, "and")


def test_a_transcript_of_earlier_speech_says_nothing_about_this_silence() -> None:
    detector = TurnDetector(TurnSettings(mode="semantic_vad", eagerness="medium"))
    detector.feed(windows([(1.0, 400), (0.0, 100), (1.0, 300)]))  # a pause, then more speech
    detector.heard("Book me a table.", through_ms=400.0)  # of the speech before the pause
    events = detector.feed(windows([(0.0, 2000)], start_ms=800.0))
    stopped = events[-1]
    assert isinstance(stopped, SpeechStopped)
    assert stopped.decided_ms - stopped.speech_end_ms == SEMANTIC_SILENCE_MS["medium"]["neutral"]


def test_the_transcript_of_the_speech_up_to_the_silence_ends_the_turn_when_complete() -> None:
    detector = TurnDetector(TurnSettings(mode="semantic_vad", eagerness="medium"))
    detector.feed(windows([(1.0, 400), (0.0, 100)]))
    detector.heard("Book me a table.", through_ms=400.0)
    events = detector.feed(windows([(0.0, 2000)], start_ms=500.0))
    stopped = events[-1]
    assert isinstance(stopped, SpeechStopped)
    assert stopped.decided_ms - stopped.speech_end_ms == SEMANTIC_SILENCE_MS["medium"]["complete"]


@given(
    pattern=runs,
    eagerness=st.sampled_from(["low", "medium", "high", "auto"]),
    text=st.sampled_from(["Thanks.", "Paris", "and", "the?"]),
)
def test_a_stale_transcript_counts_as_none(
    pattern: list[tuple[float, int]], eagerness: str, text: str
) -> None:
    settings = TurnSettings(mode="semantic_vad", eagerness=eagerness)  # type: ignore[arg-type]
    detector = TurnDetector(settings)
    detector.heard(text, through_ms=-1.0)  # older than any speech of the pattern
    for event in detector.feed(windows(pattern)):
        if isinstance(event, SpeechStopped):
            assert event.decided_ms - event.speech_end_ms == semantic_silence_ms(eagerness, "")


def _with_sound_end(window: SpeechProbability, loud_until_ms: float) -> SpeechProbability:
    return window._replace(loud_until_ms=loud_until_ms)


def test_silence_is_counted_from_where_the_sound_ended_inside_the_last_voiced_window() -> None:
    detector = TurnDetector(TurnSettings(mode="server_vad", silence_duration_ms=300))
    scored = windows([(1.0, 200), (0.0, 400)])
    scored[19] = _with_sound_end(scored[19], 192.0)  # the last voiced window: quiet after 192
    stopped = [e for e in detector.feed(scored) if isinstance(e, SpeechStopped)]
    # The turn's audio is still whole windows; only the wait starts at the sound's end.
    assert stopped == [
        SpeechStopped(audio_start_ms=0, audio_end_ms=200, speech_end_ms=200.0, decided_ms=500.0)
    ]  # 192 + 300 = 492: decided at the end of the window holding 492


def test_voiced_windows_that_are_quiet_count_as_silence_for_at_most_the_quiet_tail() -> None:
    detector = TurnDetector(TurnSettings(mode="server_vad", silence_duration_ms=300))
    scored = windows([(1.0, 300), (0.0, 400)])
    for index in range(10, 30):  # the VAD says voiced from 100 ms on; the sound ended at 100
        scored[index] = _with_sound_end(scored[index], scored[index].start_ms)
    stopped = [e for e in detector.feed(scored) if isinstance(e, SpeechStopped)]
    # Counted from 300 - QUIET_TAIL_MS, not from 100; decided at the end of the window
    # that completes 300 ms of it.
    assert [e.decided_ms for e in stopped] == [math.ceil((600 - QUIET_TAIL_MS) / STEP) * STEP]
    assert stopped[0].speech_end_ms == 300.0


@given(pattern=runs, silence=st.integers(0, 60).map(lambda n: n * 10), data=st.data())
def test_a_measured_sound_end_only_ever_brings_the_stop_earlier_by_the_quiet_tail(
    pattern: list[tuple[float, int]], silence: int, data: st.DataObject
) -> None:
    settings = TurnSettings(mode="server_vad", silence_duration_ms=silence)
    plain = windows(pattern)
    measured = [_with_sound_end(w, data.draw(st.floats(w.start_ms, w.end_ms))) for w in plain]
    before = [e for e in TurnDetector(settings).feed(plain) if isinstance(e, SpeechStopped)]
    after = [e for e in TurnDetector(settings).feed(measured) if isinstance(e, SpeechStopped)]
    for early, late in zip(after, before, strict=False):
        assert late.decided_ms - QUIET_TAIL_MS - STEP <= early.decided_ms <= late.decided_ms
