"""The type peek reads ``type`` where servers write it (first or last) and guesses nothing else."""

from __future__ import annotations

import pytest

from rtagents.protocol.type_peek import AUDIO_DELTA_ENDS, peek_type


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type":"response.done","event_id":"e"}', "response.done"),  # OpenAI: first, compact
        ('{"type": "response.done", "event_id": "e"}', "response.done"),  # json.dumps
        ('{"event_id":"e","type":"response.done"}', "response.done"),  # pydantic dump: last
        ('{"event_id": "e", "type": "response.done"}', "response.done"),
        ('{"type":"x"}', "x"),
        ('{"event_id":"e","type":"response.done","delta":"AA"}', None),  # mid-object
        ('{"type":5,"event_id":"e"}', None),
        ('{"type":"unterminated', None),
        ("[1, 2]", None),
        ("", None),
    ],
)
def test_the_type_is_read_first_or_last_in_str_and_bytes(text: str, expected: str | None) -> None:
    assert peek_type(text) == expected
    assert peek_type(text.encode()) == (None if expected is None else expected.encode())


def test_a_long_frame_is_read_at_its_ends_only() -> None:
    middle = ',"x":"' + "A" * 10_000 + '"'
    assert peek_type('{"type":"a.b"' + middle + "}") == "a.b"
    assert peek_type('{"e":1' + middle + ',"type":"a.b"}') == "a.b"


def test_audio_delta_ends_match_both_spacings_kinds_and_ends() -> None:
    (bytes_heads, bytes_tails), (str_heads, str_tails) = AUDIO_DELTA_ENDS
    for text in (
        '{"type":"response.output_audio.delta","delta":"AA"}',
        '{"type": "response.output_audio.delta", "delta": "AA"}',
    ):
        assert text.startswith(str_heads) and text.encode().startswith(bytes_heads)
    for text in (
        '{"delta":"AA","type":"response.output_audio.delta"}',
        '{"delta": "AA", "type": "response.output_audio.delta"}',
    ):
        assert text.endswith(str_tails) and text.encode().endswith(bytes_tails)
    assert not '{"type":"response.output_audio.delta_v2"}'.startswith(str_heads)
    assert not '{"a":"x","type":"xresponse.output_audio.delta"}'.endswith(str_tails)
