"""Records that are not events: they end the appends run before them and are on disk at once."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from rtagents.observability.recording import RecordingWriter, read_records
from rtagents.observability.recording_records import OtherRecords

B64 = base64.b64encode(bytes(960)).decode()  # 20 ms of pcm16 at 24 kHz
APPEND = json.dumps({"type": "input_audio_buffer.append", "audio": B64}, separators=(",", ":"))


def _on_disk(path: Path) -> list[dict[str, object]]:
    """The lines written so far, the writer still open (the header first)."""
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    ("write", "kind"),
    [
        (lambda w: w.lifecycle("connecting", "configuring", "transport_opened"), "lifecycle"),
        (lambda w: w.failure("tool", "lookup_order timed out after 8 s"), "failure"),
        (lambda w: w.connection_closed(1001, "going away", "server"), "close"),
    ],
)
def test_a_record_that_must_not_wait_follows_the_appends_and_is_flushed(
    tmp_path: Path, write: object, kind: str
) -> None:
    writer = RecordingWriter(tmp_path / "s.jsonl", side="server", session_id="sess_1")
    for _ in range(3):
        writer.append("received", APPEND, B64)
    assert callable(write)
    write(writer)
    _, appends, record = _on_disk(tmp_path / "s.jsonl")  # written before close
    assert appends["kind"] == "appends" and appends["n"] == 3
    assert record["kind"] == kind and record["session_id"] == "sess_1"
    writer.close()


def test_a_mark_learnt_late_keeps_its_time_and_waits_for_the_batch(tmp_path: Path) -> None:
    now = [10.0]
    writer = RecordingWriter(
        tmp_path / "s.jsonl", side="server", clock=lambda: now[0], wall_clock=lambda: 1000.0
    )
    now[0] = 12.0
    writer.mark("first_token", response_id="resp_1", at=11.5)
    assert not (tmp_path / "s.jsonl").exists()  # a mark is batched, not flushed
    writer.close()
    (mark,) = read_records(tmp_path / "s.jsonl")
    assert mark["kind"] == "mark" and mark["t"] == pytest.approx(1.5)
    assert mark["name"] == "first_token" and mark["response_id"] == "resp_1"


def test_the_records_need_a_line_writer_underneath() -> None:
    with pytest.raises(TypeError, match="abstract"):
        OtherRecords()  # type: ignore[abstract]
