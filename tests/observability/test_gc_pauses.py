"""The process's garbage-collection pauses, as every server's ``/metrics`` shows them."""

from __future__ import annotations

import gc

from test_metrics import parsed

from rtagents.observability.gc_pauses import PAUSE_BUCKETS, PauseTally, process_pauses
from rtagents.observability.metrics import ServerMetrics


def test_garbage_collection_pauses_are_exported_per_generation() -> None:
    metrics = ServerMetrics()
    full = ("rtagents_gc_pause_seconds_count", (("generation", "2"),))
    before = parsed(metrics)
    gc.collect()  # a real full collection, timed by the process's gc callback
    after = parsed(metrics)
    assert after[full] >= before[full] + 1
    total = ("rtagents_gc_pause_seconds_sum", (("generation", "2"),))
    assert after[total] > before[total]
    buckets = [
        (float(dict(labels)["le"]), value)
        for (name, labels), value in after.items()
        if name == "rtagents_gc_pause_seconds_bucket" and dict(labels)["generation"] == "2"
    ]
    counts = [value for _, value in sorted(buckets)]
    assert counts == sorted(counts)  # cumulative
    assert counts[-1] == after[full]  # +Inf holds every collection


def test_every_server_in_a_process_reads_the_one_gc_tally() -> None:
    one, two = ServerMetrics(), ServerMetrics()
    gc.collect()
    full = ("rtagents_gc_pause_seconds_count", (("generation", "2"),))
    assert parsed(one)[full] == parsed(two)[full]
    assert sum(callback is process_pauses() for callback in gc.callbacks) == 1


def test_a_pause_lands_in_the_first_bucket_that_holds_it() -> None:
    tally = PauseTally()
    for generation in (0, 2, 2):
        tally("start", {"generation": generation})
        tally("stop", {"generation": generation, "collected": 0, "uncollectable": 0})
    assert sum(tally.buckets[2]) == 2 and sum(tally.buckets[0]) == 1
    assert tally.sums[1] == 0.0 and sum(tally.buckets[1]) == 0
    pairs = tally.cumulative(2)
    assert [le for le, _ in pairs] == [repr(b) for b in PAUSE_BUCKETS] + ["+Inf"]
    assert pairs[-1] == ("+Inf", 2.0)
