"""Appends written in runs read back exactly as appends written one line each."""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtagents.observability.recording import RecordingWriter, read_records
from rtagents.observability.recording_format import RecordingError
from rtagents.observability.recording_runs import RUN_APPENDS, expand_appends

APPEND = "input_audio_buffer.append"


def _append(data: bytes, event_id: str | None, compact: bool) -> tuple[str, str]:
    audio = base64.b64encode(data).decode()
    fields = {"type": APPEND, "audio": audio, **({"event_id": event_id} if event_id else {})}
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(fields, separators=separators), audio


# One step of a session: an append (compact or not, either direction), another event,
# a lifecycle record or a mark: everything but an append ends the run in progress.
STEPS = st.one_of(
    st.tuples(
        st.just("append"),
        st.sampled_from(["sent", "received"]),
        st.binary(max_size=64),
        st.one_of(st.none(), st.text(max_size=8)),
        st.booleans(),
    ),
    st.tuples(st.just("event"), st.sampled_from(["sent", "received"])),
    st.tuples(st.just("lifecycle")),
    st.tuples(st.just("mark")),
)


def _write(path: Path, steps: list[tuple[object, ...]], *, runs: bool) -> list[dict[str, object]]:
    ticks = itertools.count()
    writer = RecordingWriter(
        path, side="client", clock=lambda: next(ticks) / 1024, wall_clock=lambda: 1.7e9
    )
    writer._runs = runs  # the same records, in runs or one line each
    for step in steps:
        if step[0] == "append":
            _, direction, data, event_id, compact = step
            wire, audio = _append(data, event_id, compact)  # type: ignore[arg-type]
            writer.event(direction, wire, event_type=APPEND, audio=audio)  # type: ignore[arg-type]
        elif step[0] == "event":
            writer.event(step[1], '{"type":"response.create"}', event_type="response.create")  # type: ignore[arg-type]
        elif step[0] == "lifecycle":
            writer.lifecycle("open", "reconnecting", "drop")
        else:
            writer.mark("first_audio", response_id="resp_1")
    writer.close()
    return list(read_records(path))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEPS, max_size=140))
def test_runs_read_back_as_the_lines_they_replace(tmp_path: Path, steps: list) -> None:
    with_runs = _write(tmp_path / "runs.jsonl", steps, runs=True)
    one_each = _write(tmp_path / "lines.jsonl", steps, runs=False)
    assert len(with_runs) == len(one_each)
    for ran, single in zip(with_runs, one_each, strict=True):
        assert ran["t"] == pytest.approx(single["t"], abs=2e-6)
        assert ran["wall"] == pytest.approx(single["wall"], abs=2e-6)
        assert {**ran, "t": 0, "wall": 0} == {**single, "t": 0, "wall": 0}


def test_a_run_holds_at_most_a_second_of_appends(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    steps = [("append", "sent", bytes(48), f"evt_{i}", True) for i in range(RUN_APPENDS * 2 + 1)]
    records = _write(path, steps, runs=True)
    kinds = [json.loads(line)["kind"] for line in path.read_text().splitlines()[1:]]
    assert kinds == ["appends", "appends", "appends"]
    assert [r["seq"] for r in records] == list(range(1, RUN_APPENDS * 2 + 2))
    assert [r["event"]["event_id"] for r in records] == [f"evt_{i}" for i in range(101)]


def test_a_broken_appends_record_says_where(tmp_path: Path) -> None:
    record = {"t": 0.0, "wall": 1.0, "kind": "appends", "session_id": None, "dir": "sent"}
    record |= {"seq": 1, "transport": "websocket", "n": 2, "dt_us": [0], "heads": [], "tails": []}
    with pytest.raises(RecordingError, match=r"here:3: a broken appends record"):
        list(expand_appends(record, "here:3"))


def test_a_version_2_run_reads_back_with_its_crc32_column() -> None:
    """Version 2 wrote zlib's CRC-32 (``crc32``); its records read back as written."""
    record = {"t": 0.5, "wall": 1.5, "kind": "appends", "session_id": "sess_1", "dir": "sent"}
    record |= {"seq": 4, "transport": "websocket", "n": 2, "dt_us": [0, 20000]}
    record |= {"heads": ['{"type":"input_audio_buffer.append","audio":', None]}
    record |= {"tails": ["}", None], "bytes": [3, 3], "crc32": ["0000abcd", "0000abce"]}
    events = [r["event"] for r in expand_appends(record, "old.jsonl:2")]
    assert [e["audio"]["crc32"] for e in events] == ["0000abcd", "0000abce"]
    assert [r["seq"] for r in expand_appends(record, "old.jsonl:2")] == [4, 5]


def test_a_heads_column_longer_than_n_is_a_broken_record() -> None:
    record = {"t": 0.0, "wall": 1.0, "kind": "appends", "session_id": None, "dir": "sent"}
    record |= {"seq": 1, "transport": "websocket", "n": 1, "dt_us": [0], "bytes": [3]}
    record |= {"heads": ['{"audio":', '{"audio":'], "tails": ["}"], "crc32c": [7]}
    with pytest.raises(
        RecordingError, match=r"x:2: a broken appends record \(a heads, tails or bytes"
    ):
        list(expand_appends(record, "x:2"))


@pytest.mark.parametrize(
    "sizes",
    [[3] * 60, [1] * 60, [2, 1] * 30, [960] * 49 + [480], [0] * 5],
    ids=["one size", "padded", "padding varies", "a short last chunk", "empty payloads"],
)
def test_runs_of_one_payload_size_read_back_as_single_lines(
    tmp_path: Path, sizes: list[int]
) -> None:
    """A client's fixed-size chunks take the run's one-length path (one decoded length
    for the run); padding and a differing chunk must still read back exactly."""
    steps = [("append", "received", bytes([n % 251]) * n, None, True) for n in sizes]
    with_runs = _write(tmp_path / "runs.jsonl", steps, runs=True)
    one_each = _write(tmp_path / "lines.jsonl", steps, runs=False)
    assert [r["event"] for r in with_runs] == [r["event"] for r in one_each]
    assert [r["event"]["audio"]["bytes"] for r in with_runs] == sizes


def test_a_heads_column_that_is_not_a_list_is_a_broken_record() -> None:
    record = {"t": 0.0, "wall": 1.0, "kind": "appends", "session_id": None, "dir": "sent"}
    record |= {"seq": 1, "transport": "websocket", "n": 2, "dt_us": [0, 1], "bytes": [3]}
    record |= {"heads": '{"audio":', "tails": ["}"], "crc32c": [7, 8]}
    with pytest.raises(
        RecordingError,
        match=r"x:2: a broken appends record \(a heads, tails or bytes column is a list, not str",
    ):
        list(expand_appends(record, "x:2"))


def test_appends_as_pythons_json_dumps_writes_them_go_in_runs(tmp_path: Path) -> None:
    """The openai package sends a dict event through ``json.dumps``: ``"audio": "..."``
    with spaces. Those frames are one line too, so they share a run (one ``appends``
    line) and read back as they were sent."""
    steps = [("append", "received", bytes([n]) * 480, None, False) for n in range(30)]
    with_runs = _write(tmp_path / "runs.jsonl", steps, runs=True)
    one_each = _write(tmp_path / "lines.jsonl", steps, runs=False)
    assert [r["event"] for r in with_runs] == [r["event"] for r in one_each]
    lines = (tmp_path / "runs.jsonl").read_text().splitlines()[1:]
    assert [json.loads(line)["kind"] for line in lines] == ["appends"]
    assert json.loads(lines[0])["heads"] == ['{"type": "input_audio_buffer.append", "audio": ']


def test_an_append_whose_payload_is_escaped_gets_its_own_line(tmp_path: Path) -> None:
    """A JSON escape in the payload (legal, if odd) means the text on the wire is not the
    payload: the frame is written whole, on its own line, and still reads back."""
    writer = RecordingWriter(tmp_path / "r.jsonl", side="server")
    wire = '{"type":"input_audio_buffer.append","audio":"AB\\/C"}'  # the payload is AB/C
    writer.event("received", wire, event_type=APPEND, audio="AB/C")
    writer.close()
    lines = (tmp_path / "r.jsonl").read_text().splitlines()[1:]
    assert [json.loads(line)["kind"] for line in lines] == ["event"]
    (record,) = read_records(tmp_path / "r.jsonl")
    assert record["event"]["audio"]["bytes"] == 3
