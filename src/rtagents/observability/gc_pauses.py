"""How long the garbage collector stopped this process, per generation, for ``/metrics``.

A full collection stops every session of the process at once: on a 2-vCPU
machine with 140 live sessions one took 35-55 ms, and 60-170 ms when it also
freed ended sessions (docs/benchmarks.md, "A new machine"). That is the tail a
load test sees and a turn-latency histogram cannot explain, so the server
exports it: ``rtagents_gc_pause_seconds{generation}``.

The collector's callbacks are process-wide, so one :class:`PauseTally` is
installed once per process (:func:`process_pauses`) and every server's
registry reads it through its own :class:`PauseCollector`. A callback costs
two ``perf_counter`` calls and a few int adds per collection, not per event.
"""

from __future__ import annotations

import bisect
import gc
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

# Seconds: a young collection takes microseconds; a full one on a large heap, 100s of ms.
PAUSE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
GENERATIONS = (0, 1, 2)


class PauseTally:
    """Collections per generation, bucketed by pause, fed by ``gc.callbacks``."""

    def __init__(self) -> None:
        self.buckets = {g: [0] * (len(PAUSE_BUCKETS) + 1) for g in GENERATIONS}
        self.sums = dict.fromkeys(GENERATIONS, 0.0)
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.observe(info.get("generation", 2), time.perf_counter() - self._started)

    def observe(self, generation: int, pause: float) -> None:
        """One collection of ``generation`` that stopped the process for ``pause`` seconds."""
        self.buckets[generation][bisect.bisect_left(PAUSE_BUCKETS, pause)] += 1
        self.sums[generation] += pause

    def cumulative(self, generation: int) -> list[tuple[str, float]]:
        """``(le, count)`` pairs as Prometheus wants them, ``+Inf`` last."""
        total, pairs = 0, []
        bounds = [*map(repr, PAUSE_BUCKETS), "+Inf"]
        for bound, count in zip(bounds, self.buckets[generation], strict=True):
            total += count
            pairs.append((bound, float(total)))
        return pairs


_tally: PauseTally | None = None


def process_pauses() -> PauseTally:
    """This process's tally, installed in ``gc.callbacks`` on first use."""
    global _tally
    if _tally is None:
        _tally = PauseTally()
        gc.callbacks.append(_tally)
    return _tally


class PauseCollector(Collector):
    """The process's pauses as one histogram family, read when scraped."""

    def __init__(self, tally: PauseTally) -> None:
        self._tally = tally

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for generation in GENERATIONS:
            family.add_metric(
                [str(generation)],
                self._tally.cumulative(generation),
                self._tally.sums[generation],
            )
        return [family]

    @staticmethod
    def _family() -> HistogramMetricFamily:
        return HistogramMetricFamily(
            "rtagents_gc_pause_seconds",
            "Seconds this process stood still in each garbage collection, by generation "
            "(2: a full collection, which stops every session of the process)",
            labels=["generation"],
        )
