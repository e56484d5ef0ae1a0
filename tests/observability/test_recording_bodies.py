"""The compact path of an audio event's body gives exactly what the general path gives."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from openai.types.realtime import ResponseAudioDeltaEvent

from rtagents.observability.recording_bodies import EventBodies, compact_elided, encoded_elided

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


@given(
    delta=st.one_of(
        st.binary(max_size=600).map(lambda data: base64.b64encode(data).decode()),
        st.text(max_size=40),  # anything a relayed upstream may have put there
    ),
    event_id=st.text(max_size=12),
    extra=st.dictionaries(st.sampled_from(["delta", "x", "audio"]), st.text(max_size=8)),
)
def test_an_encoded_delta_elides_as_the_general_path_does_or_takes_it(
    delta: str, event_id: str, extra: dict[str, str]
) -> None:
    """What the server's encoder writes: the model's fields, then any extra ones."""
    kind = "response.output_audio.delta"
    event = ResponseAudioDeltaEvent.model_validate(
        {
            "type": kind,
            "event_id": event_id,
            "response_id": "resp_1",
            "item_id": "item_1",
            "output_index": 0,
            "content_index": 0,
            "delta": delta,
            "nested": extra,
        }
    )
    wire = event.model_dump_json(exclude_unset=True, by_alias=True)
    general = EventBodies("elided", Path("unused.audio")).body(wire, kind, delta)
    encoded = encoded_elided(wire, kind, delta)
    if encoded is None:  # not canonical base64, or a quote in it: the general path
        assert compact_elided(wire, kind, delta) is None or '"' in delta or len(delta) % 4
        return
    assert json.loads(encoded) == json.loads(general)
    assert json.loads(encoded)["nested"] == extra


def test_an_encoded_frame_it_cannot_prove_takes_the_general_path() -> None:
    kind = "response.output_audio.delta"
    assert encoded_elided('{"delta":"AAA\\""}', kind, 'AAA"') is None  # an escaped quote
    assert encoded_elided('{"delta":"AAAA\\\\"}', kind, "AAAA\\") is None  # an escape: longer
    assert encoded_elided('{"delta":"YWJ"}', kind, "YWJ") is None  # not canonical base64
    assert encoded_elided('{"audio":"YWJj"}', "session.update", "YWJj") is None
    assert encoded_elided('{"type":"x"}', kind, "YWJj") is None  # no payload key
