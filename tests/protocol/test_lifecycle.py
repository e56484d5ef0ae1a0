"""The lifecycle table, the machine that walks it, and the generated diagram."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rtagents.protocol as protocol
from rtagents.protocol.errors import LocalProtocolError
from rtagents.protocol.lifecycle import (
    HISTORY_KEPT,
    TERMINAL_STATES,
    TRANSITIONS,
    Lifecycle,
    State,
    Transition,
    Trigger,
    mermaid_diagram,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"
MAIN_PATH = [
    (Trigger.START, State.AUTHENTICATING),
    (Trigger.AUTHENTICATED, State.CONNECTING),
    (Trigger.TRANSPORT_OPENED, State.CONFIGURING),
    (Trigger.CONFIGURED, State.ACTIVE),
    (Trigger.CLOSE_REQUESTED, State.CLOSING),
    (Trigger.TRANSPORT_CLOSED, State.CLOSED),
]


def walk(*triggers: Trigger) -> Lifecycle:
    machine = Lifecycle()
    for trigger in triggers:
        machine.fire(trigger)
    return machine


def test_the_main_path() -> None:
    machine = Lifecycle()
    for trigger, target in MAIN_PATH:
        assert machine.fire(trigger, cause=f"step {trigger}").target is target
        assert machine.state is target
    assert machine.terminal
    assert [t.trigger for t in machine.history] == [t for t, _ in MAIN_PATH]
    assert machine.history[0] == Transition(
        source=State.IDLE, trigger=Trigger.START, target=State.AUTHENTICATING, cause="step start"
    )


def test_drop_retry_and_resume() -> None:
    machine = walk(
        Trigger.START,
        Trigger.AUTHENTICATED,
        Trigger.TRANSPORT_OPENED,
        Trigger.CONFIGURED,
        Trigger.CONNECTION_LOST,
    )
    assert machine.state is State.RECONNECTING
    machine.fire(Trigger.RETRY)
    assert machine.state is State.CONNECTING
    machine.fire(Trigger.TRANSPORT_OPENED)
    machine.fire(Trigger.CONNECTION_LOST)
    machine.fire(Trigger.RESUMED)
    assert machine.state is State.ACTIVE


@pytest.mark.parametrize("state", [State.ACTIVE, State.CONFIGURING])
def test_the_peer_closing_cleanly_ends_the_session(state: State) -> None:
    machine = Lifecycle(state)
    machine.fire(Trigger.TRANSPORT_CLOSED)
    assert machine.state is State.CLOSED


@pytest.mark.parametrize("state", [s for s in State if s not in TERMINAL_STATES])
def test_close_and_fatal_are_allowed_from_every_live_state(state: State) -> None:
    assert TRANSITIONS[(state, Trigger.CLOSE_REQUESTED)] is State.CLOSING
    assert TRANSITIONS[(state, Trigger.FATAL)] is State.FAILED
    assert not Lifecycle(state).terminal


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
def test_terminal_states_accept_nothing(state: State) -> None:
    machine = Lifecycle(state)
    assert machine.terminal and machine.legal_triggers() == []
    with pytest.raises(LocalProtocolError, match=r"none \(terminal state\)"):
        machine.fire(Trigger.CLOSE_REQUESTED)


def test_an_illegal_trigger_names_state_trigger_and_alternatives() -> None:
    machine = Lifecycle()
    assert not machine.can(Trigger.CONFIGURED) and machine.can(Trigger.START)
    with pytest.raises(LocalProtocolError) as info:
        machine.fire(Trigger.CONFIGURED)
    message = str(info.value)
    assert "'configured'" in message and "'idle'" in message
    assert "start, close_requested, fatal" in message
    assert info.value.code == "invalid_state_transition"
    assert machine.state is State.IDLE and machine.history == ()


def test_observers_run_after_the_change_and_can_unsubscribe() -> None:
    machine = Lifecycle()
    seen: list[tuple[State, State]] = []

    def observer(transition: Transition) -> None:
        seen.append((transition.target, machine.state))

    unsubscribe = machine.subscribe(observer)
    machine.fire(Trigger.START)
    unsubscribe()
    unsubscribe()  # idempotent
    machine.fire(Trigger.AUTHENTICATED)
    assert seen == [(State.AUTHENTICATING, State.AUTHENTICATING)]


def test_a_raising_observer_does_not_corrupt_the_machine() -> None:
    machine = Lifecycle()
    later: list[Transition] = []

    def broken(_: Transition) -> None:
        raise RuntimeError("observer bug")

    machine.subscribe(broken)
    machine.subscribe(later.append)
    with pytest.raises(RuntimeError, match="observer bug"):
        machine.fire(Trigger.START)
    assert machine.state is State.AUTHENTICATING and len(machine.history) == 1
    assert [t.target for t in later] == [State.AUTHENTICATING]


def test_an_observer_may_unsubscribe_itself_while_notified() -> None:
    machine = Lifecycle()
    calls: list[Transition] = []

    def once(transition: Transition) -> None:
        calls.append(transition)
        unsubscribe()

    unsubscribe = machine.subscribe(once)
    machine.fire(Trigger.START)
    machine.fire(Trigger.AUTHENTICATED)
    assert len(calls) == 1


@given(st.lists(st.sampled_from(list(Trigger)), max_size=30))
def test_any_trigger_sequence_stays_in_the_table(triggers: list[Trigger]) -> None:
    machine = Lifecycle()
    for trigger in triggers:
        before = machine.state
        if machine.can(trigger):
            assert machine.fire(trigger).target is TRANSITIONS[(before, trigger)]
        else:
            with pytest.raises(LocalProtocolError):
                machine.fire(trigger)
            assert machine.state is before


def test_every_state_is_reachable_from_idle() -> None:
    reached, frontier = {State.IDLE}, [State.IDLE]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is state and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(State)


def test_the_diagram_shows_every_edge() -> None:
    diagram = mermaid_diagram()
    assert diagram.startswith("stateDiagram-v2\n")
    for (source, trigger), target in TRANSITIONS.items():
        drawn = f"{source.name} --> {target.name}: {trigger.name}" in diagram
        noted = f"{trigger.name} leads to {target.name} from every live state" in diagram
        assert drawn or noted


def test_the_doc_embeds_the_generated_diagram() -> None:
    blocks = re.findall(r"```mermaid\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert blocks == [mermaid_diagram()], (
        "docs/lifecycle.md is stale; regenerate its mermaid block from mermaid_diagram()"
    )


def test_the_package_reexports_lifecycle_and_errors() -> None:
    assert protocol.Lifecycle is Lifecycle and protocol.LocalProtocolError is LocalProtocolError


def test_the_history_keeps_the_last_transitions_only() -> None:
    machine = walk(*(t for t, _ in MAIN_PATH[:4]))  # active
    for _ in range(HISTORY_KEPT):  # a client that drops and resumes for weeks
        machine.fire(Trigger.CONNECTION_LOST)
        machine.fire(Trigger.RESUMED)
    assert len(machine.history) == HISTORY_KEPT
    assert machine.history[-1].trigger is Trigger.RESUMED
    assert machine.history[0].trigger is Trigger.CONNECTION_LOST
