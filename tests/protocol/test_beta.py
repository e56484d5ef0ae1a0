"""Beta names and their GA replacements."""

from __future__ import annotations

import pytest

from rtagents.protocol.beta import (
    BETA_AUDIO_FORMATS,
    BETA_SERVER_EVENT_TYPES,
    BETA_SESSION_FIELDS,
    ga_replacement_for_field,
)
from rtagents.protocol.codec import known_types


def test_every_beta_server_name_maps_to_a_ga_server_type() -> None:
    assert set(BETA_SERVER_EVENT_TYPES.values()) <= known_types("server")
    assert not set(BETA_SERVER_EVENT_TYPES) & (known_types("server") | known_types("client"))


def test_beta_audio_formats_name_ga_objects() -> None:
    import json

    for ga in BETA_AUDIO_FORMATS.values():
        assert json.loads(ga)["type"].startswith("audio/")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("session.modalities", "session.output_modalities"),
        ("response.modalities", "response.output_modalities"),
        ("session.max_response_output_tokens", "session.max_output_tokens"),
        ("session.audio.voice", None),
        ("item.voice", None),
        ("session.unknown", None),
        ("voice", None),
    ],
)
def test_ga_replacement_for_field(path: str, expected: str | None) -> None:
    assert ga_replacement_for_field(path) == expected


def test_every_flat_field_has_a_replacement() -> None:
    for name in BETA_SESSION_FIELDS:
        assert ga_replacement_for_field(f"session.{name}")
