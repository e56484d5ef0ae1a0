"""The recording writer and reader: format v1 lines, audio modes, rotation, redaction, errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import google_crc32c
import pytest

from rtagents.observability.recording import RecordingReader, RecordingWriter, read_records
from rtagents.observability.recording_format import (
    REDACTED,
    RecordingError,
    elide,
    elided_json,
    redact_headers,
    redact_url,
)
from rtagents.protocol.errors import ModelError, Origin

AUDIO = bytes(range(256)) * 10
B64 = base64.b64encode(AUDIO).decode()
APPEND = json.dumps({"type": "input_audio_buffer.append", "audio": B64, "event_id": "e1"})


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_header_and_every_kind_of_record(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    writer = RecordingWriter(
        path, side="client", url="ws://h/v1/realtime?model=m&api_key=sk-abc", model="m"
    )
    writer.event("sent", '{"type":"session.update","session":{}}', event_type="session.update")
    writer.session_id = "sess_1"
    writer.event("received", '{"type":"session.created"}', event_type="session.created")
    writer.event("received", "not json{")
    writer.lifecycle("connecting", "configuring", "transport_opened")
    writer.error(ModelError("engine broke", origin=Origin.REMOTE, code="engine_failure"))
    writer.mark("first_audio", response_id="resp_1")
    writer.connection_closed(1000, "bye", "client")
    writer.close()
    writer.event("sent", "{}", event_type="x")  # after close: dropped, no error

    header, *records = _lines(path)
    assert header["format"] == "rtagents.recording" and header["version"] == 3
    assert header["side"] == "client" and header["part"] == 0 and header["audio"] == "elided"
    assert "sk-abc" not in str(header["url"]) and "model=m" in str(header["url"])
    kinds = [r["kind"] for r in records]
    assert kinds == ["event", "event", "event", "lifecycle", "failure", "mark", "close"]
    sent, received, raw = records[:3]
    assert sent["dir"] == "sent" and sent["seq"] == 1 and sent["session_id"] is None
    assert received["seq"] == 1 and received["session_id"] == "sess_1"
    assert raw["event"] is None and raw["raw"] == "not json{" and raw["raw_bytes"] == 9
    assert raw["seq"] == 2
    failure = records[4]
    assert failure["category"] == "model" and failure["code"] == "engine_failure"
    assert failure["origin"] == "remote"
    assert records[6] == {**records[6], "code": 1000, "reason": "bye", "by": "client"}
    assert all(r["t"] >= 0 and r["wall"] > 0 for r in records)


def test_audio_modes(tmp_path: Path) -> None:
    for mode in ("elided", "inline", "beside"):
        path = tmp_path / f"{mode}.jsonl"
        writer = RecordingWriter(path, side="client", audio=mode)
        writer.event("sent", APPEND, event_type="input_audio_buffer.append")
        writer.event("received", {"type": "response.output_audio.delta", "delta": B64})
        writer.close()
        reader = RecordingReader(path)
        first, second = (r["event"] for r in reader)
        if mode == "elided":
            crc = f"{google_crc32c.value(B64.encode()):08x}"  # of the base64 text as sent
            assert first["audio"] == {"elided": True, "bytes": len(AUDIO), "crc32c": crc}
            assert reader.audio(first["audio"]) is None
        elif mode == "inline":
            assert first["audio"] == B64
        else:
            assert first["audio"]["file"] == "beside.audio"
            assert second["delta"]["offset"] == len(AUDIO)
        if mode != "elided":
            assert reader.audio(first["audio"]) == AUDIO
            assert reader.audio(second["delta"]) == AUDIO


def test_rotation_writes_a_header_per_part_and_reads_across_parts(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    writer = RecordingWriter(path, side="server", session_id="sess_9", rotate_bytes=4096)
    for n in range(200):
        writer.event("sent", json.dumps({"type": "x", "n": n}), event_type="x")
    writer.close()
    assert len(writer.parts) > 3 and writer.parts[1].name == "long.1.jsonl"
    for index, part in enumerate(writer.parts):
        assert part.stat().st_size <= 4096
        header = _lines(part)[0]
        assert header["part"] == index and header["session_id"] == "sess_9"
    numbers = [r["event"]["n"] for r in read_records(writer.parts[2])]  # any part finds all
    assert numbers == list(range(200))
    assert [r["seq"] for r in read_records(path)] == list(range(1, 201))


def test_a_truncated_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    writer = RecordingWriter(path, side="client")
    writer.event("sent", '{"type":"a"}', event_type="a")
    writer.close()
    with path.open("ab") as file:
        file.write(b'{"t":1.0,"kind":"ev')
    reader = RecordingReader(path)
    assert [r["event"]["type"] for r in reader] == ["a"]
    assert reader.truncated


def test_a_bad_line_in_the_middle_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    writer = RecordingWriter(path, side="client")
    writer.close()
    with path.open("ab") as file:
        file.write(b"garbage\n" + b'{"kind":"mark"}\n')
    with pytest.raises(RecordingError, match=r"bad\.jsonl:2: not a recording record"):
        list(read_records(path))


@pytest.mark.parametrize(
    ("first_line", "message"),
    [
        (b'{"hello": 1}\n', "is not an rtagents recording"),
        (b"", "is not an rtagents recording"),
        (
            b'{"format": "rtagents.recording", "version": 4, "rtagents_version": "9.0"}\n',
            r"version 4 recording; this rtagents reads versions 1, 2 and 3.*9\.0",
        ),
        (
            b'{"format": "rtagents.recording", "version": 1, "side": "x"}\n',
            "'side' must be client or server",
        ),
    ],
)
def test_wrong_format_or_version_is_a_clear_error(
    tmp_path: Path, first_line: bytes, message: str
) -> None:
    path = tmp_path / "other.jsonl"
    path.write_bytes(first_line)
    with pytest.raises(RecordingError, match=message):
        RecordingReader(path)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such recording file"):
        RecordingReader(tmp_path / "nope.jsonl")


def test_a_part_of_another_recording_is_refused(tmp_path: Path) -> None:
    RecordingWriter(tmp_path / "a.jsonl", side="client").close()
    RecordingWriter(tmp_path / "b.jsonl", side="server").close()
    (tmp_path / "b.jsonl").rename(tmp_path / "a.1.jsonl")
    with pytest.raises(RecordingError, match="expected part 1 of a client one"):
        list(read_records(tmp_path / "a.jsonl"))


def test_secrets_are_redacted() -> None:
    url = redact_url("wss://user:pw@host/v1/realtime?model=m&token=abc&x=ek_123")
    assert url is not None
    assert "pw" not in url and "abc" not in url and "ek_123" not in url and "model=m" in url
    headers = redact_headers(
        {"Authorization": "Bearer sk-1", "X-Api-Key": "k", "X-Other": "ek_9 ok"}
    )
    assert headers["Authorization"] == REDACTED and headers["X-Api-Key"] == REDACTED
    assert headers["X-Other"] == f"{REDACTED} ok"


def test_failure_messages_never_carry_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    writer = RecordingWriter(path, side="client")
    writer.failure("connection", "401 for key sk-live-123", code="invalid_api_key")
    writer.connection_closed(1008, "bad secret ek_abc", "server")
    writer.close()
    text = path.read_text()
    assert "sk-live-123" not in text and "ek_abc" not in text
    failure, close = read_records(path)
    assert failure["message"] == f"401 for key {REDACTED}"
    assert close["reason"] == f"bad secret {REDACTED}"


def test_elided_lengths_follow_the_padding() -> None:
    for size in range(0, 7):
        payload = base64.b64encode(bytes(size)).decode()
        assert elide(payload)["bytes"] == size
        assert json.loads(elided_json(payload)) == elide(payload)
    assert elide("not base64!")["bytes"] == 0  # an unreadable payload counts as none


def test_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="audio must be"):
        RecordingWriter(tmp_path / "x.jsonl", side="client", audio="mp3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rotate_bytes"):
        RecordingWriter(tmp_path / "x.jsonl", side="client", rotate_bytes=10)
