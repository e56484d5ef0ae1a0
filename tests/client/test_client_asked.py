"""The config a rebuild restores: updates count once answered, never once refused or dropped."""

from __future__ import annotations

from rtagents.client.asked import MAX_PENDING, AskedConfig

GREETER = {"type": "realtime", "instructions": "Greet.", "audio": {"output": {"voice": "alloy"}}}


def test_a_sent_update_is_restored_before_its_answer_and_kept_after_it() -> None:
    asked = AskedConfig(GREETER)
    asked.sent("evt_1", {"instructions": "Haikus."})
    assert asked.current == {**GREETER, "instructions": "Haikus."}
    assert asked.pending == ["evt_1"]
    asked.answered()
    assert asked.pending == [] and asked.current == {**GREETER, "instructions": "Haikus."}
    asked.answered()  # an answer with nothing waiting changes nothing
    assert asked.current == {**GREETER, "instructions": "Haikus."}


def test_a_refused_update_leaves_no_trace_and_the_others_keep_their_order() -> None:
    asked = AskedConfig(GREETER)
    asked.sent("evt_1", {"instructions": "A."})
    asked.sent("evt_2", {"audio": {"output": {"voice": "coral"}}, "instructions": "B."})
    asked.sent("evt_3", {"tools": []})
    assert asked.withdrawn("evt_2") and not asked.withdrawn("evt_2")
    assert not asked.withdrawn(None) and not asked.withdrawn("evt_unknown")
    assert asked.current == {**GREETER, "instructions": "A.", "tools": []}
    asked.answered()  # answers evt_1, the oldest still waiting
    assert asked.pending == ["evt_3"]


def test_updates_a_rebuild_restored_count_as_applied() -> None:
    asked = AskedConfig()
    assert asked.current is None
    asked.sent("evt_1", {"instructions": "A."})
    asked.sent("evt_2", {"instructions": "B."})
    asked.applied(["evt_1", "evt_gone"])
    assert asked.pending == ["evt_2"]
    asked.withdrawn("evt_2")
    assert asked.current == {"instructions": "A."}


def test_unanswered_updates_are_bounded() -> None:
    asked = AskedConfig()
    for n in range(MAX_PENDING + 5):
        asked.sent(f"evt_{n}", {"instructions": str(n)})
    assert len(asked.pending) == MAX_PENDING and asked.pending[0] == "evt_5"
    for event_id in asked.pending:
        asked.withdrawn(event_id)
    assert asked.current == {"instructions": "4"}  # the oldest five counted as applied
