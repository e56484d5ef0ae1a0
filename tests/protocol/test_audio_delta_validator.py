"""The audio delta's own validator: the model the union would pick, and nothing else."""

from __future__ import annotations

import json

import pytest
from openai.types.realtime import ResponseAudioDeltaEvent
from pydantic import ValidationError

from rtagents.protocol.audio_delta_validator import audio_delta_validator
from rtagents.protocol.codec import _adapter

DELTA = {
    "type": "response.output_audio.delta",
    "event_id": "event_1",
    "response_id": "resp_1",
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
    "delta": "AAAA",
}


def test_it_builds_what_the_discriminated_union_builds() -> None:
    wire = json.dumps(DELTA)
    event = audio_delta_validator().validate_json(wire)
    assert isinstance(event, ResponseAudioDeltaEvent)
    assert event == _adapter("server").validate_json(wire)


@pytest.mark.parametrize(
    "frame",
    [
        {**DELTA, "type": "response.output_text.delta"},
        {**DELTA, "delta": 5},
        {"type": DELTA["type"]},
    ],
    ids=["another type", "a number for delta", "fields missing"],
)
def test_anything_else_is_rejected_for_the_general_path_to_judge(frame: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        audio_delta_validator().validate_json(json.dumps(frame))
