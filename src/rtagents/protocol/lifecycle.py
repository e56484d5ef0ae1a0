"""The session lifecycle as one table of transitions.

Client and server share it (the table is role-agnostic): credentials are
obtained, a transport opens, the session is configured, it runs, and it ends
either gracefully or by failing, possibly via reconnects. Every legal move
is a row of :data:`TRANSITIONS`; anything else is a bug of the caller and
raises :class:`~.errors.LocalProtocolError`. ``docs/lifecycle.md`` is
generated from the same table by :func:`mermaid_diagram`, so the picture
cannot drift from the code.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from .errors import LocalProtocolError


class State(StrEnum):
    IDLE = "idle"
    AUTHENTICATING = "authenticating"
    CONNECTING = "connecting"
    CONFIGURING = "configuring"
    ACTIVE = "active"
    RECONNECTING = "reconnecting"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


class Trigger(StrEnum):
    START = "start"
    AUTHENTICATED = "authenticated"
    TRANSPORT_OPENED = "transport_opened"
    CONFIGURED = "configured"
    CONNECTION_LOST = "connection_lost"
    RETRY = "retry"
    RESUMED = "resumed"
    CLOSE_REQUESTED = "close_requested"
    TRANSPORT_CLOSED = "transport_closed"
    FATAL = "fatal"


TERMINAL_STATES: Final = frozenset({State.CLOSED, State.FAILED})
HISTORY_KEPT: Final = 256  # transitions kept: a client reconnecting for weeks must not grow
_LIVE_STATES: Final = tuple(s for s in State if s not in TERMINAL_STATES)


def _build_table() -> dict[tuple[State, Trigger], State]:
    table = {
        # the main path
        (State.IDLE, Trigger.START): State.AUTHENTICATING,
        (State.AUTHENTICATING, Trigger.AUTHENTICATED): State.CONNECTING,
        (State.CONNECTING, Trigger.TRANSPORT_OPENED): State.CONFIGURING,
        (State.CONFIGURING, Trigger.CONFIGURED): State.ACTIVE,
        (State.CLOSING, Trigger.TRANSPORT_CLOSED): State.CLOSED,
        # the peer closed cleanly
        (State.ACTIVE, Trigger.TRANSPORT_CLOSED): State.CLOSED,
        (State.CONFIGURING, Trigger.TRANSPORT_CLOSED): State.CLOSED,
        # drops and resume
        (State.ACTIVE, Trigger.CONNECTION_LOST): State.RECONNECTING,
        (State.CONFIGURING, Trigger.CONNECTION_LOST): State.RECONNECTING,
        (State.RECONNECTING, Trigger.RETRY): State.CONNECTING,
        (State.RECONNECTING, Trigger.RESUMED): State.ACTIVE,
        # a reconnect attempt failed before the session was back: wait, try again
        (State.CONNECTING, Trigger.CONNECTION_LOST): State.RECONNECTING,
        # the new connection carries the session again (resumed, or rebuilt)
        (State.CONFIGURING, Trigger.RESUMED): State.ACTIVE,
    }
    for state in _LIVE_STATES:
        # closing again while closing is a no-op move, so close() is idempotent
        table[(state, Trigger.CLOSE_REQUESTED)] = State.CLOSING
        table[(state, Trigger.FATAL)] = State.FAILED
    return table


TRANSITIONS: Final[Mapping[tuple[State, Trigger], State]] = MappingProxyType(_build_table())


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """One move of the machine, as observers and logs see it."""

    source: State
    trigger: Trigger
    target: State
    cause: str | None = None


Observer = Callable[[Transition], None]


class Lifecycle:
    """A session's position in :data:`TRANSITIONS`, with its history and observers."""

    def __init__(self, initial: State = State.IDLE) -> None:
        self._state = State(initial)
        self._history: deque[Transition] = deque(maxlen=HISTORY_KEPT)
        self._observers: list[Observer] = []

    @property
    def state(self) -> State:
        return self._state

    @property
    def history(self) -> Sequence[Transition]:
        """The last :data:`HISTORY_KEPT` transitions, oldest first."""
        return tuple(self._history)

    @property
    def terminal(self) -> bool:
        return self._state in TERMINAL_STATES

    def can(self, trigger: Trigger) -> bool:
        return (self._state, trigger) in TRANSITIONS

    def legal_triggers(self) -> list[Trigger]:
        """Triggers allowed in the current state, in declaration order."""
        return [t for t in Trigger if (self._state, t) in TRANSITIONS]

    def fire(self, trigger: Trigger, *, cause: str | None = None) -> Transition:
        """Move along ``trigger``; observers run after the state changed.

        An observer that raises does not undo the move or stop the other
        observers: all of them run, then the first exception is re-raised.
        """
        target = TRANSITIONS.get((self._state, trigger))
        if target is None:
            legal = ", ".join(self.legal_triggers()) or "none (terminal state)"
            raise LocalProtocolError(
                f"Lifecycle cannot take {str(trigger)!r} in state {str(self._state)!r}; "
                f"legal triggers here: {legal}.",
                code="invalid_state_transition",
            )
        transition = Transition(source=self._state, trigger=trigger, target=target, cause=cause)
        self._state = target
        self._history.append(transition)
        self._notify(transition)
        return transition

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer`` after every transition; returns an idempotent unsubscribe."""
        self._observers.append(observer)

        def unsubscribe() -> None:
            if observer in self._observers:
                self._observers.remove(observer)

        return unsubscribe

    def _notify(self, transition: Transition) -> None:
        first_error: BaseException | None = None
        for observer in tuple(self._observers):
            try:
                observer(transition)
            except Exception as exc:  # an observer must not corrupt the machine
                first_error = first_error or exc
        if first_error is not None:
            raise first_error


def _global_triggers() -> dict[Trigger, State]:
    """Triggers that take every live state to one target (drawn as a note, not 7 arrows)."""
    found: dict[Trigger, State] = {}
    for trigger in Trigger:
        targets = {TRANSITIONS.get((state, trigger)) for state in _LIVE_STATES}
        if len(targets) == 1 and None not in targets:
            found[trigger] = TRANSITIONS[(_LIVE_STATES[0], trigger)]
    return found


def mermaid_diagram() -> str:
    """A mermaid ``stateDiagram-v2`` of :data:`TRANSITIONS` (docs/lifecycle.md embeds it)."""
    everywhere = _global_triggers()
    lines = ["stateDiagram-v2", f"    [*] --> {State.IDLE.name}"]
    for (source, trigger), target in TRANSITIONS.items():
        if trigger not in everywhere:
            lines.append(f"    {source.name} --> {target.name}: {trigger.name}")
    for trigger, target in everywhere.items():
        lines.append(f"    {State.IDLE.name} --> {target.name}: {trigger.name}")
    lines += [f"    {state.name} --> [*]" for state in State if state in TERMINAL_STATES]
    if everywhere:
        lines.append(f"    note left of {State.IDLE.name}")
        for trigger, target in everywhere.items():
            lines.append(f"        {trigger.name} leads to {target.name} from every live state")
        lines.append("    end note")
    return "\n".join(lines) + "\n"
