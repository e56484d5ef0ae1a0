"""ObserverList: sends go to all, client frames to those that want them, hooks where present."""

from __future__ import annotations

from typing import Any

from openai.types.realtime import InputAudioBufferClearedEvent

from rtagents.protocol.errors import RealtimeError
from rtagents.server.host.backend import ReceivedEvent
from rtagents.server.host.observer_list import ObserverList


class Watcher:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_sent(self, event: Any, error: RealtimeError | None) -> None:
        self.seen.append(f"sent {event.type}")

    def on_received(self, inbound: ReceivedEvent) -> None:
        self.seen.append(f"received {inbound.type}")


class SendsOnly(Watcher):
    wants_received = False

    def on_turn(self, marks: str) -> None:
        self.seen.append(f"turn {marks}")


def test_each_observer_sees_what_it_asked_for() -> None:
    both, sends_only = Watcher(), SendsOnly()
    observers = ObserverList([both])
    observers.add(sends_only)
    observers.sent(
        InputAudioBufferClearedEvent(type="input_audio_buffer.cleared", event_id="e"), None
    )
    observers.received(ReceivedEvent(type="input_audio_buffer.clear", event_id=None, outcome="ok"))
    observers.notify("on_turn", "t1")  # only the one that has the hook
    observers.remove(both)
    observers.received(ReceivedEvent(type="response.create", event_id=None, outcome="ok"))
    assert both.seen == ["sent input_audio_buffer.cleared", "received input_audio_buffer.clear"]
    assert sends_only.seen == ["sent input_audio_buffer.cleared", "turn t1"]
    assert list(observers) == [sends_only]
