"""ServerMetrics: its own registry, closed label sets, and an exposition Prometheus can parse."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from rtagents.observability.metrics import MAX_ERROR_CODES, ServerMetrics
from rtagents.protocol.codec import known_types


def parsed(metrics: ServerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


@dataclass
class Marks:
    speech_stopped_at: float | None = None
    first_token_at: float | None = None
    first_audio_at: float | None = None
    done_at: float | None = None


def test_two_servers_never_share_a_series_nor_touch_the_global_registry() -> None:
    one, two = ServerMetrics(), ServerMetrics()
    one.count_sent("response.done")
    out = ("rtagents_events_total", (("direction", "out"), ("type", "response.done")))
    assert parsed(one)[out] == 1.0
    assert parsed(two)[out] == 0.0
    assert REGISTRY.get_sample_value("rtagents_events_total") is None


def test_event_types_outside_the_ga_set_count_as_unknown() -> None:
    metrics = ServerMetrics()
    for invented in ("x" * 5000, "session.updatex", None):
        metrics.count_received(invented)
    metrics.count_sent("not.a.server.event")
    found = parsed(metrics)
    assert found["rtagents_events_total", (("direction", "in"), ("type", "unknown"))] == 3.0
    assert found["rtagents_events_total", (("direction", "out"), ("type", "unknown"))] == 1.0
    series = {labels for name, labels in found if name == "rtagents_events_total"}
    assert len(series) == len(known_types("client")) + len(known_types("server")) + 2


def test_error_codes_stop_growing_at_the_bound() -> None:
    metrics = ServerMetrics()
    for n in range(MAX_ERROR_CODES + 50):
        metrics.count_error("protocol", f"code_{n}")
    metrics.count_error("protocol", "code_0")  # an admitted code keeps its own series
    metrics.count_error("made-up", None)
    found = parsed(metrics)
    codes = {dict(labels)["code"] for name, labels in found if name == "rtagents_errors_total"}
    assert len(codes) == MAX_ERROR_CODES + 1  # the admitted ones and "other"
    assert found["rtagents_errors_total", (("category", "protocol"), ("code", "other"))] == 50.0
    assert found["rtagents_errors_total", (("category", "protocol"), ("code", "code_0"))] == 2.0
    assert ("rtagents_errors_total", (("category", "unknown"), ("code", "other"))) in found


def test_turns_fill_the_stages_they_reached() -> None:
    metrics = ServerMetrics()
    metrics.observe_turn(Marks(speech_stopped_at=10.0, first_token_at=10.2, done_at=11.5))
    metrics.observe_turn(Marks(first_token_at=3.0, done_at=4.0))  # asked for: no end of speech
    metrics.observe_stage("transcript", -0.01)  # ready before the end of speech: 0
    found = parsed(metrics)

    def count(stage: str) -> float:
        return found["rtagents_turn_latency_seconds_count", (("stage", stage),)]

    assert (count("first_token"), count("done"), count("first_audio")) == (1.0, 1.0, 0.0)
    assert count("transcript") == 1.0
    assert found["rtagents_turn_latency_seconds_sum", (("stage", "transcript"),)] == 0.0
    done_sum = found["rtagents_turn_latency_seconds_sum", (("stage", "done"),)]
    assert abs(done_sum - 1.5) < 1e-9
    le_2 = ("rtagents_turn_latency_seconds_bucket", (("le", "2.0"), ("stage", "done")))
    le_1 = ("rtagents_turn_latency_seconds_bucket", (("le", "1.0"), ("stage", "done")))
    assert (found[le_1], found[le_2]) == (0.0, 1.0)


def test_sessions_active_is_read_at_scrape_and_secrets_and_resumes_count() -> None:
    metrics = ServerMetrics()
    open_now = [3]
    metrics.count_sessions_with(lambda: open_now[0])
    metrics.count_secret("minted")
    metrics.count_secret("rate_limit_exceeded")
    metrics.count_resume("resumed")
    metrics.count_resume("whatever else")
    metrics.session_ended("client")
    metrics.session_ended("not an outcome")
    metrics.observe_queue_wait("stt", 0.25)
    found = parsed(metrics)
    assert found["rtagents_sessions_active", ()] == 3.0
    open_now[0] = 0
    assert parsed(metrics)["rtagents_sessions_active", ()] == 0.0
    assert found["rtagents_client_secrets_total", (("result", "minted"),)] == 1.0
    assert found["rtagents_resumes_total", (("result", "refused"),)] == 1.0
    assert found["rtagents_sessions_ended_total", (("outcome", "transport"),)] == 1.0
    assert found["rtagents_engine_queue_wait_seconds_count", (("engine", "stt"),)] == 1.0
