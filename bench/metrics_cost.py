"""What metrics and tracing add to each event: the observers' cost against the host's own work.

Every event the host sends or receives passes the session's observers. This
times them on the hottest events, a 20 ms ``response.output_audio.delta``
sent and an ``input_audio_buffer.append`` received, and in the same run the
work the host does anyway for each sent event (``encode_event``), so the
figure is a ratio on this machine, not a bare time:

- ``metrics``: :class:`SessionMetrics` (a dict lookup and a counter increment);
- ``spans off``: :class:`SessionTracer` of an untraced session (a dict lookup);
- ``spans on``: the same, traced (the delta's time is noted for the TTS span).

Run: ``.venv/bin/python bench/metrics_cost.py`` (``--events N``).
"""

from __future__ import annotations

import argparse
import base64
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from rtagents.observability.metrics import ServerMetrics
from rtagents.observability.metrics_observer import SessionMetrics
from rtagents.observability.telemetry import Telemetry
from rtagents.observability.telemetry_observer import SessionTracer
from rtagents.protocol.codec import decode_server_event, encode_event
from rtagents.server.host.backend import ReceivedEvent

DELTA_BYTES = 960  # 20 ms of pcm16 at 24 kHz


def per_call_ns(call: Callable[[], Any], events: int) -> float:
    """Best of five runs of ``events`` calls, in ns per call (the least disturbed run)."""
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter_ns()
        for _ in range(events):
            call()
        best = min(best, (time.perf_counter_ns() - began) / events)
    return best


def traced(on: bool) -> SessionTracer:
    telemetry = Telemetry("all" if on else "off", TracerProvider())
    tracer = SessionTracer(telemetry, "sess_bench", time.time_ns)
    session = {"type": "realtime", "model": "gpt-realtime", "tracing": "auto"}
    tracer.on_sent(
        decode_server_event(encode_event(_event("session.created", session=session))), None
    )
    tracer.on_sent(
        decode_server_event(
            encode_event(
                _event("response.created", response={"id": "resp_1", "object": "realtime.response"})
            )
        ),
        None,
    )  # noqa: E501
    return tracer


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": "event_1", **fields}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    events = parser.parse_args().events
    audio = base64.b64encode(bytes(DELTA_BYTES)).decode()
    delta = decode_server_event(
        encode_event(
            _event(
                "response.output_audio.delta",
                response_id="resp_1",
                item_id="item_1",
                output_index=0,
                content_index=0,
                delta=audio,
            )
        )
    )
    append = ReceivedEvent(type="input_audio_buffer.append", event_id=None, outcome="ok")
    metrics = SessionMetrics(ServerMetrics())
    off, on = traced(False), traced(True)
    encode = per_call_ns(lambda: encode_event(delta), events)
    rows = {
        "metrics: sent delta": per_call_ns(lambda: metrics.on_sent(delta, None), events),
        "metrics: received append": per_call_ns(lambda: metrics.on_received(append), events),
        "spans off: sent delta": per_call_ns(lambda: off.on_sent(delta, None), events),
        "spans on: sent delta": per_call_ns(lambda: on.on_sent(delta, None), events),
    }
    print(f"encode_event of a 20 ms audio delta (the host's own work): {encode:.0f} ns")
    for name, cost in rows.items():
        print(f"{name:28s} {cost:6.0f} ns  = {100 * cost / encode:5.1f} % of encode_event")


if __name__ == "__main__":
    main()
