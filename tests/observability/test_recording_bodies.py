"""The compact path of an audio event's body gives exactly what the general path gives."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from rtagents.observability.recording_bodies import EventBodies, compact_elided

KINDS = {"input_audio_buffer.append": "audio", "response.output_audio.delta": "delta"}


@given(
    kind=st.sampled_from(sorted(KINDS)),
    data=st.binary(max_size=600),
    event_id=st.text(max_size=12),
    first=st.booleans(),
)
def test_compact_frames_elide_as_the_general_path_does(
    kind: str, data: bytes, event_id: str, first: bool
) -> None:
    audio = base64.b64encode(data).decode()
    fields = {KINDS[kind]: audio, "type": kind, "event_id": event_id}
    if not first:
        fields = {"type": kind, "event_id": event_id, KINDS[kind]: audio}
    wire = json.dumps(fields, separators=(",", ":"))
    general = EventBodies("elided", Path("unused.audio")).body(wire, kind, audio)
    compact = compact_elided(wire, kind, audio)
    assert compact is not None and json.loads(compact) == json.loads(general)


def test_frames_it_cannot_slice_take_the_general_path() -> None:
    audio = base64.b64encode(b"abc").decode()
    kind = "input_audio_buffer.append"
    spaced = json.dumps({"type": kind, "audio": audio})  # '"audio": "...' (a space)
    assert compact_elided(spaced, kind, audio) is None
    lines = '{"type":"input_audio_buffer.append",\n"audio":"' + audio + '"}'
    assert compact_elided(lines, kind, audio) is None  # a raw newline: one line each first
    assert compact_elided(b'{"audio":"YWJj"}', kind, audio) is None  # bytes: parsed
    assert compact_elided('{"audio":"YWJj"}', "session.update", audio) is None
    assert compact_elided('{"audio":"YWJ"}', kind, "YWJ") is None  # not canonical base64
    assert compact_elided('{"audio":"other"}', kind, audio) is None  # not the payload given
    assert compact_elided('{"audio":"YW\nJj"}', kind, "YW\nJj") is None  # a newline in it
    # An escaped quote puts a quote where the payload would end: still not the payload.
    assert compact_elided('{"audio":"AAA\\""}', kind, 'AAA"') is None


def test_a_frame_nested_past_any_stack_is_kept_as_raw_text() -> None:
    deep = '{"type": "x", "a": ' + "[" * 5000 + "]" * 5000 + "}"
    line = EventBodies("elided", Path("unused.audio")).body(deep, None, None)
    record = json.loads("{" + '"event":' + line + "}")
    assert record["event"] is None and record["raw_bytes"] == len(deep)
    assert record["raw"].startswith('{"type": "x"')
