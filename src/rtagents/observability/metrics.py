"""Prometheus metrics of one server: what sessions did, where turns spent their time.

Each server owns a :class:`ServerMetrics` with its own registry (never the
process-global one), so several servers in one process (tests, a gateway
beside a local node) never clash and ``/metrics`` shows only its own.

Every label is drawn from a closed set: event types are the GA types the
``openai`` models define (anything else counts as ``unknown``), error
categories are the four of the taxonomy, and error codes stop growing at
:data:`MAX_ERROR_CODES` (later new ones count as ``other``). A client that
invents event types or error-provoking payloads cannot grow the number of
series. Counting one event is a dict lookup and an increment on a child
resolved in advance (docs/debugging.md, "Metrics and traces").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from ..protocol.codec import known_types
from ..protocol.errors import Category
from .gc_pauses import PauseCollector, process_pauses

__all__ = ["CONTENT_TYPE_LATEST", "LatencyMarks", "ServerMetrics"]

UNKNOWN = "unknown"
OTHER = "other"
# Distinct error codes kept as labels; the server's own codes are a few dozen.
MAX_ERROR_CODES = 64
# Seconds: a voice turn's stages run from ~0 (a transcript ready before the end of
# speech) to several seconds (a slow CPU LLM); queue waits from 0 to a backlog.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
# Who closed a session (the host's on_closed): the client with a close frame, the
# server (shutdown, session cap, a client not reading), or the transport (dropped).
OUTCOMES = ("client", "server", "transport")
ENGINE_STAGES = ("stt", "tts")


class LatencyMarks(Protocol):
    """The marks of one voice turn (``server/local/turn_marks.TurnMarks`` has them).

    ``perf_counter`` seconds; ``None`` when it did not happen.
    """

    speech_stopped_at: float | None
    first_token_at: float | None
    first_audio_at: float | None
    done_at: float | None


class ServerMetrics:
    """The metrics of one server, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # Read when scraped (count_sessions_with), so it can never drift from the roster.
        self.sessions_active = Gauge("rtagents_sessions_active", "Sessions open now", registry=r)
        self.sessions_ended = Counter(
            "rtagents_sessions_ended", "Sessions ended, by who closed them", ["outcome"], registry=r
        )
        # Events are counted as plain ints (EventCounts) and read at scrape time: a
        # prometheus Counter takes a lock per increment, ~1 us on every audio delta.
        self.events = EventCounts(known_types("client"), known_types("server"))
        r.register(self.events)
        r.register(PauseCollector(process_pauses()))
        self.errors = Counter(
            "rtagents_errors",
            "Error events sent to clients, by category and code",
            ["category", "code"],
            registry=r,
        )
        self.resumes = Counter(
            "rtagents_resumes",
            "Resume attempts: resumed (the session went on), refused (the client must rebuild)",
            ["result"],
            registry=r,
        )
        # Relay mode (docs/relay.md): upstream sessions rebuilt behind a live
        # downstream one, after a drop or before the upstream's cap (rollover).
        self.upstream_rebuilds = Counter(
            "rtagents_upstream_rebuilds",
            "Upstream sessions the relay rebuilt: after a drop, or rolled over before the cap",
            ["reason"],
            registry=r,
        )
        self.secrets = Counter(
            "rtagents_client_secrets",
            "Client secret mint requests: minted, or refused with the reason",
            ["result"],
            registry=r,
        )
        self.secret_uses = Counter(
            "rtagents_client_secret_uses",
            "Sessions and calls opened with a client secret: accepted, or refused with the reason",
            ["result"],
            registry=r,
        )
        self.turn_latency = Histogram(
            "rtagents_turn_latency_seconds",
            "Seconds from the end of the user's speech (speech_stopped) to each stage of the reply",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "rtagents_engine_queue_wait_seconds",
            "Seconds a job waited for an engine worker before it ran",
            ["engine"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._outcomes = {o: self.sessions_ended.labels(outcome=o) for o in OUTCOMES}
        self._stages = {
            s: self.turn_latency.labels(stage=s)
            for s in ("transcript", "first_token", "first_text", "first_audio", "done")
        }
        self._error_children: dict[tuple[str, str], Any] = {}
        self._error_codes: set[str] = set()
        self._waits = {e: self.queue_wait.labels(engine=e) for e in ENGINE_STAGES}

    # --- fed by the session observer (hot path: lookups and increments only) ---------

    def count_received(self, event_type: str | None) -> None:
        self.events.count(self.events.received, event_type)

    def count_sent(self, event_type: str) -> None:
        self.events.count(self.events.sent, event_type)

    def count_error(self, category: str, code: str | None) -> None:
        child = self._error_children.get((category, code or ""))
        if child is None:
            child = self._error_child(category, code)
        child.inc()

    def _error_child(self, category: str, code: str | None) -> Any:
        """A new (category, code) pair: admitted while the code set has room, else ``other``."""
        key = (category, code or "")
        label_category = category if category in _CATEGORIES else UNKNOWN
        label_code = code or "none"
        if label_code not in self._error_codes:
            if len(self._error_codes) >= MAX_ERROR_CODES:
                label_code = OTHER
            else:
                self._error_codes.add(label_code)
        child = self.errors.labels(category=label_category, code=label_code)
        if len(self._error_children) < 4 * MAX_ERROR_CODES:
            self._error_children[key] = child
        return child

    def count_sessions_with(self, open_sessions: Callable[[], int]) -> None:
        """Have ``sessions_active`` read ``open_sessions()`` at each scrape."""
        self.sessions_active.set_function(open_sessions)

    def session_ended(self, outcome: str) -> None:
        self._outcomes.get(outcome, self._outcomes["transport"]).inc()

    def count_resume(self, result: str) -> None:
        self.resumes.labels(result="resumed" if result == "resumed" else "refused").inc()

    def count_upstream_rebuild(self, reason: str) -> None:
        """``drop`` or ``rollover`` (anything else counts as ``drop``)."""
        self.upstream_rebuilds.labels(reason="rollover" if reason == "rollover" else "drop").inc()

    def count_secret(self, result: str) -> None:
        """``minted``, or a refusal's code (a server-chosen, closed set)."""
        self.secrets.labels(result=result).inc()

    def count_secret_use(self, result: str) -> None:
        """``accepted``, or the refusal's code at use (a server-chosen, closed set)."""
        self.secret_uses.labels(result=result).inc()

    def observe_turn(self, marks: LatencyMarks) -> None:
        """A finished voice turn: each stage it reached, in seconds after speech_stopped."""
        # The end of the turn: speech stopped, or the client's commit (push to talk).
        origin = marks.speech_stopped_at or getattr(marks, "committed_at", None)
        if origin is None:
            return  # a response the client asked for: no end of a turn to measure from
        # The transcript stage is timed by the session observer as it happens
        # (observe_stage): it may be final only after response.done.
        for stage, at in (
            ("first_token", marks.first_token_at),
            ("first_text", getattr(marks, "first_text_at", None)),  # marks that know it
            ("first_audio", marks.first_audio_at),
            ("done", marks.done_at),
        ):
            if at is not None:
                self._stages[stage].observe(max(0.0, at - origin))

    def observe_stage(self, stage: str, seconds: float) -> None:
        self._stages[stage].observe(max(0.0, seconds))

    def observe_queue_wait(self, engine: str, seconds: float) -> None:
        self._waits[engine].observe(seconds)

    # --- exposition -----------------------------------------------------------------

    def exposition(self) -> bytes:
        """The text format ``/metrics`` serves (:data:`CONTENT_TYPE_LATEST`)."""
        return generate_latest(self.registry)


_CATEGORIES = frozenset(str(c) for c in Category)


class EventCounts(Collector):
    """Events by direction and GA type as plain ints, turned into a counter family when scraped.

    The keys are fixed at construction (every GA type, and ``unknown``), so
    the series never grow; an increment is a dict lookup and an int add, done
    on the event loop's thread (a scrape from the metrics port's thread only reads).
    """

    def __init__(self, client_types: Iterable[str], server_types: Iterable[str]) -> None:
        self.received: dict[str | None, int] = dict.fromkeys([*sorted(client_types), UNKNOWN], 0)
        self.sent: dict[str | None, int] = dict.fromkeys([*sorted(server_types), UNKNOWN], 0)

    @staticmethod
    def count(counts: dict[str | None, int], event_type: str | None) -> None:
        if event_type in counts:
            counts[event_type] += 1
        else:
            counts[UNKNOWN] += 1

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for direction, counts in (("in", self.received), ("out", self.sent)):
            for event_type, n in list(counts.items()):
                family.add_metric([direction, str(event_type)], n)
        return [family]

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily(
            "rtagents_events",
            "Events received from clients (in) and sent to them (out), by type",
            labels=["direction", "type"],
        )
