"""A settings table's field comments become its flags' help."""

from __future__ import annotations

from rtagents.cli.field_comments import field_comments
from rtagents.server.host import limits
from rtagents.server.policy import table


def test_each_field_gets_the_comment_above_it_and_sections_stop_it() -> None:
    comments = field_comments(limits, "Limits")
    assert comments["append_bytes"].startswith("One input_audio_buffer.append (decoded bytes)")
    assert all("---" not in text and "#" not in text for text in comments.values())
    assert set(field_comments(table, "Policy")) >= {"allowed_models", "max_session_s"}


def test_an_unknown_class_has_no_comments() -> None:
    assert field_comments(limits, "NoSuchTable") == {}
