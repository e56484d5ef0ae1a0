"""Watching one session from both ends, and checking that the two ends agree exactly.

:class:`ServerTap` records every event the server emits, per session, as an
observer every session host gets (``ServerConfig.observers``), and keeps the
session host so its conversation can be read directly. :class:`ClientTap`
is a catch-all handler on the rtagents client: what the application's
handlers were given, in order, plus an order of items rebuilt independently
from the ``previous_item_id`` each ``conversation.item.added`` announced.
:func:`assert_exact` then checks what the long-session and model-based tests
promise: unique event ids, every emitted event handled exactly once, and the
client's mirror, the server's state, ``retrieve`` and the announced order all
equal.
"""

from __future__ import annotations

import asyncio
import copy
from base64 import b64decode
from collections import Counter
from typing import Any

from rtagents.client import ALL, Session
from rtagents.engines.scripted import decode_audio
from rtagents.server.host.backend import HostPort, ReceivedEvent
from rtagents.server.host.session_host import SessionHost

SIZE_ENV = "RTAGENTS_SOAK"
STALL_S = 10.0  # handlers that make no progress for this long have stopped


class _HostTap:
    """One host's observer: appends (type, event_id) of each event it sends."""

    def __init__(self, emitted: list[tuple[str, str | None]]) -> None:
        self._emitted = emitted

    def on_sent(self, event: Any, error: Any) -> None:
        self._emitted.append((str(event.type), getattr(event, "event_id", None)))

    wants_received = False  # the conversation changes only by what is sent

    def on_received(self, inbound: ReceivedEvent) -> None:
        pass


class ServerTap:
    """Every (type, event_id) each session host emitted, in emit order."""

    def __init__(self) -> None:
        self.emitted: dict[SessionHost, list[tuple[str, str | None]]] = {}

    def observer(self, host: HostPort) -> _HostTap:
        """An observer for ``host`` (pass ``tap.observer`` in ``ServerConfig.observers``)."""
        assert isinstance(host, SessionHost)
        return _HostTap(self.emitted.setdefault(host, []))

    def host_of(self, session: Session) -> SessionHost:
        for host in self.emitted:
            if host.id == session.session_id:
                return host
        raise AssertionError(f"no server session {session.session_id} was seen")


class ClientTap:
    """What the client's handlers received, and the item order the server announced."""

    def __init__(self, session: Session, *, keep_audio: bool = False) -> None:
        self.handled: list[tuple[str, str | None]] = []
        self.announced: list[str] = []
        # Output audio per item, decoded (only where a test asks: long sessions would grow it).
        self.audio: dict[str, bytearray] | None = {} if keep_audio else None
        self._progress = asyncio.Event()
        session.on(ALL, self._handle)

    def spoken(self, item_id: str) -> str:
        """What the output audio received for ``item_id`` says (the tone code decoded)."""
        assert self.audio is not None, "ClientTap(keep_audio=True) keeps the audio"
        return decode_audio(bytes(self.audio.get(item_id, b"")))

    def _handle(self, event: Any) -> None:
        etype = getattr(event, "type", None)
        if not isinstance(etype, str) or etype.startswith("rtagents."):
            return  # the client's own lifecycle events, not the server's
        self.handled.append((etype, getattr(event, "event_id", None)))
        self._progress.set()
        if etype == "conversation.item.added":
            self._place(event.item.id, event.previous_item_id)
        elif etype == "conversation.item.deleted" and event.item_id in self.announced:
            self.announced.remove(event.item_id)
        elif etype == "response.output_audio.delta" and self.audio is not None:
            self.audio.setdefault(event.item_id, bytearray()).extend(b64decode(event.delta))

    def _place(self, item_id: str, previous: str | None) -> None:
        """Insert as announced: after ``previous``; at the start for None or ``"root"``."""
        if item_id in self.announced:
            self.announced.remove(item_id)
        if previous is None or previous == "root":
            self.announced.insert(0, item_id)
        else:
            assert previous in self.announced, f"{item_id} follows unknown {previous}"
            self.announced.insert(self.announced.index(previous) + 1, item_id)

    async def caught_up(self, expected: int) -> None:
        """Wait until the handlers have seen ``expected`` events (or stop progressing)."""
        while len(self.handled) < expected:
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), STALL_S)
            except TimeoutError:
                return  # the comparison that follows says what is missing


def comparable(item: Any) -> dict[str, Any]:
    """An item as JSON without input audio bytes (only ``retrieve`` carries those)."""
    data: dict[str, Any] = copy.deepcopy(
        item if isinstance(item, dict) else item.model_dump(mode="json", exclude_none=True)
    )
    for part in data.get("content") or []:
        part.pop("audio", None)
    return {key: value for key, value in data.items() if value is not None}


async def retrieve_all(session: Session) -> list[dict[str, Any]]:
    """The server's copy of each item the client's mirror holds, in mirror order."""
    retrieved = []
    for item_id in session.conversation.item_ids:
        waiter = asyncio.ensure_future(
            session.wait_for(
                ("conversation.item.retrieved", "error"),
                predicate=lambda e, i=item_id: e.type == "error" or e.item.id == i,
                timeout=30,
            )
        )
        await asyncio.sleep(0)
        await session.retrieve_item(item_id)
        answer = await waiter
        assert answer.type == "conversation.item.retrieved", (item_id, answer)
        retrieved.append(comparable(answer.item))
    return retrieved


async def assert_exact(session: Session, tap: ClientTap, server: ServerTap) -> None:
    """Mirror == server state == retrieve == announced order; ids unique; delivery exact."""
    host = server.host_of(session)
    mirror = [comparable(item) for item in session.conversation.items]
    assert session.conversation.item_ids == host.conversation.item_ids
    assert mirror == [comparable(item) for item in host.conversation.items]
    assert await retrieve_all(session) == mirror
    emitted = server.emitted[host]
    await tap.caught_up(len(emitted))
    assert tap.announced == session.conversation.item_ids
    ids = [event_id for _, event_id in emitted]
    repeated = [event_id for event_id, count in Counter(ids).items() if count > 1]
    assert None not in ids and not repeated, f"{len(repeated)} event ids repeat: {repeated[:5]}"
    assert tap.handled == emitted, first_difference(tap.handled, emitted)


def first_difference(got: list[Any], want: list[Any]) -> str:
    for index, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return f"handled #{index} is {a}, the server emitted {b}"
    return f"handled {len(got)} events, the server emitted {len(want)}"
