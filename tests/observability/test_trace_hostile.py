"""Hostile recordings: any JSON in any record field is traced or set aside, never a crash."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtagents.observability.trace_analysis import trace_file
from rtagents.observability.trace_html import render_html
from rtagents.observability.trace_text import render_text

HEADER = {"format": "rtagents.recording", "version": 1, "side": "client", "transport": "websocket"}
HEADER |= {"started_at": 0.0, "audio": "elided", "part": 0}
TYPES = [
    "error",
    "response.created",
    "response.done",
    "response.output_audio.delta",
    "response.output_text.delta",
    "response.output_item.added",
    "conversation.item.added",
    "conversation.item.create",
    "conversation.item.deleted",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "output_audio_buffer.started",
    "session.created",
]
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
fields = st.sampled_from(
    ["response", "response_id", "item", "item_id", "error", "status", "content_index", "event_id"]
)
# Objects with the keys the trace reads (item, response, error), holding anything.
KEYS = ["id", "type", "role", "call_id", "name", "output", "status", "code", "message"]
KEYS += ["event_id", "status_details", "error", "param", "transcript"]
shaped = st.recursive(
    values, lambda inner: st.dictionaries(st.sampled_from(KEYS), inner, max_size=4), max_leaves=10
)
events = st.fixed_dictionaries({"type": st.sampled_from(TYPES)}, optional={"x": values}).flatmap(
    lambda base: st.dictionaries(fields, shaped, max_size=4).map(lambda more: {**more, **base})
)
records = st.fixed_dictionaries(
    {
        "t": st.floats(min_value=0, max_value=10) | values,
        "kind": st.sampled_from(["event", "failure", "close", "mark", "lifecycle"]) | values,
    },
    optional={
        "event": events | values,
        "dir": st.sampled_from(["sent", "received"]) | values,
        "seq": st.integers(0, 5) | values,
        "category": st.sampled_from(["connection", "protocol", "model", "tool"]) | values,
        "code": values,
        "message": values,
        "name": st.sampled_from(["speech_stopped", "first_audio", "response_done"]) | values,
        "response_id": values,
        "by": values,
        "to": values,
        "raw": values,
    },
)


@settings(
    max_examples=int(os.environ.get("TRACE_HOSTILE_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(records, max_size=12))
def test_any_records_are_traced_without_a_crash(lines: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hostile.jsonl"
        text = "\n".join(json.dumps(line) for line in [HEADER, *lines])
        path.write_text(text + "\n")
        trace = trace_file(path)
        render_text(trace)
        page = render_html(trace)
        json.dumps(trace.to_json())
    assert "<script" not in page
