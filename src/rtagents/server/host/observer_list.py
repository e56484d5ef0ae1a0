"""Who watches one session: the host's observers, and which of them watch client frames.

Every emitted event is shown to all of them; a client frame only to those
that did not say ``wants_received = False`` (appends come by the thousand,
so that list is kept ready rather than filtered per frame). Optional hooks
(``on_turn``, ``on_resumed``, ``on_closed``) are looked up only when their
rare event happens.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel

from ...protocol.errors import RealtimeError
from .backend import Observer, ReceivedEvent


class ObserverList:
    """The observers of one session host, in the order they were added."""

    def __init__(self, observers: Iterable[Observer]) -> None:
        self._all = list(observers)
        self._receivers = self._watching_frames()

    def __iter__(self) -> Iterator[Observer]:
        return iter(self._all)

    def add(self, observer: Observer) -> None:
        self._all.append(observer)
        self._receivers = self._watching_frames()

    def remove(self, observer: Observer) -> None:
        if observer in self._all:
            self._all.remove(observer)
            self._receivers = self._watching_frames()

    def sent(self, event: BaseModel, error: RealtimeError | None) -> None:
        for observer in self._all:
            observer.on_sent(event, error)

    def received(self, inbound: ReceivedEvent) -> None:
        for observer in self._receivers:
            observer.on_received(inbound)

    def notify(self, hook: str, *args: Any) -> None:
        """Call the optional ``hook`` of every observer that has one (rare events only)."""
        for observer in self._all:
            method = getattr(observer, hook, None)
            if method is not None:
                method(*args)

    def _watching_frames(self) -> tuple[Observer, ...]:
        return tuple(o for o in self._all if getattr(o, "wants_received", True))
