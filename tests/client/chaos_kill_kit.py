"""One conversation of the kill -9 chaos run (test_chaos_kill.py), and the fault count.

:class:`Conversation` plays an app: text and tool turns over the resilient
client, asking again when a rebuild lost the turn in flight, then checks its
mirror against the server's conversation with ``conversation.item.retrieve``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

from resilience_kit import fast_opener

from rtagents import connect
from rtagents.client import ReconnectPolicy, Session
from rtagents.testing.faults import FaultProxy
from rtagents.testing.server_process import ServerProcess

TURNS = 5
WAIT_S = 60.0
CONFIG = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "audio": {"input": {"turn_detection": None}},
}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}}
# Long enough to ride out a restart of the server process (about a second or two).
POLICY = ReconnectPolicy(max_attempts=40, base_delay=0.05, max_delay=0.5, rollover_margin=None)


async def until(check: Callable[[], bool], what: str, session: Session | None = None) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            state = describe(session) if session is not None else ""
            raise AssertionError(f"timed out waiting for {what}; {state}")
        await asyncio.sleep(0.01)


def describe(session: Session) -> str:
    """The session's state in one line, for a failure message."""
    items = [
        f"{i.type}/{getattr(i, 'status', None)}:"
        f"{getattr(i, 'role', None) or getattr(i, 'call_id', '')}:{_text_of(i) or ''}"
        for i in session.conversation.items
    ]
    responses = [r.status for r in session.conversation.responses.values()]
    return (
        f"state={session.state} failure={session.failure} items={items} responses={responses} "
        f"tool runs={dict(session.tools.runs)}"
    )


def _dump(item: Any) -> dict[str, Any]:
    data: dict[str, Any] = item.model_dump(exclude_none=True)
    for part in data.get("content", []):
        part.pop("audio", None)  # retrieve returns the audio bytes; the mirror keeps none
    return data


class Conversation:
    """An app's conversation: turns, asked again after a rebuild, then checked."""

    def __init__(self, server: ServerProcess, proxy: FaultProxy, seed: int) -> None:
        self.server = server
        self.proxy = proxy
        self.seed = seed
        self.rng = random.Random(seed)
        self.stats: Counter[str] = Counter()
        self.delivered: Counter[str] = Counter()
        self.rebuilds = 0
        self.retrieved: dict[str, Any] = {}
        self.refused: dict[str, str] = {}  # event_id -> the server's error message

    async def run(self) -> Counter[str]:
        async with connect(
            self.proxy.url(),
            credentials=self.server.api_key,
            model="gpt-realtime",
            session=CONFIG,
            reconnect=POLICY,
            transport=fast_opener,
            stall_timeout=1.0,
            open_timeout=2.0,
        ) as session:
            session.on("*", self._delivered)
            session.on("rtagents.resumed", self._resumed)
            session.on("conversation.item.retrieved", self._retrieved)
            session.on("error", self._refused)

            @session.tools.register(parameters=WEATHER)
            async def get_weather(city: str) -> dict[str, str]:
                return {"city": city, "forecast": "sunny"}

            await session.update_session({"type": "realtime", "tools": session.tools.definitions()})
            for turn in range(TURNS):
                await self._turn(session, turn)
            await self._verify(session)
        return self.stats

    def _delivered(self, event: Any) -> None:
        if event.event_id:
            self.delivered[event.event_id] += 1

    def _resumed(self, event: Any) -> None:
        self.stats["rebuilt" if event.rebuilt else "resumed"] += 1
        self.rebuilds += event.rebuilt

    def _retrieved(self, event: Any) -> None:
        self.retrieved[event.item.id] = event.item

    def _refused(self, event: Any) -> None:
        error = getattr(event, "error", None)
        if error is not None and error.event_id:
            self.refused[error.event_id] = f"{error.code}: {error.message}"

    async def _turn(self, session: Session, turn: int) -> None:
        """Ask, and wait for the answer; a rebuild mid-turn means asking again."""
        tool = self.rng.random() < 0.5
        text = f"weather in turn {turn}" if tool else f"hello, turn {turn}"
        await session.send_text(text)
        while True:
            rebuilds = self.rebuilds
            await session.create_response()
            await until(
                lambda r=rebuilds: self._answered(session, text) or self.rebuilds != r,
                f"turn {turn} ({text!r})",
                session,
            )
            if self._answered(session, text):
                self.stats["tool" if tool else "text"] += 1
                return
            self.stats["asked again"] += 1
            await until(lambda: session.connection is not None, "the rebuilt session")
            if not any(_text_of(item) == text for item in session.conversation.items):
                await session.send_text(text)  # the kill took the question too

    def _answered(self, session: Session, text: str) -> bool:
        """The turn's question is followed by a finished assistant answer."""
        items = list(session.conversation.items)
        asked = [i for i, item in enumerate(items) if _text_of(item) == text]
        if not asked:
            return False
        answers = {i.id for i in items[asked[-1] + 1 :] if getattr(i, "role", None) == "assistant"}
        # A response a kill interrupted stays in progress in the mirror (the server that
        # ran it is gone), so only a completed response that wrote an answer counts.
        return any(
            r.status == "completed" and answers & set(r.output_item_ids)
            for r in session.conversation.responses.values()
        )

    def _fetched(self, ids: set[str], asked: set[str], rebuilds: int) -> bool:
        """Every item came back, or one was refused, or a rebuild means starting over."""
        refused = bool(asked & set(self.refused))
        return ids <= set(self.retrieved) or self.rebuilds != rebuilds or refused

    async def _verify(self, session: Session) -> None:
        """Fetch every mirror item back from the server; again if a rebuild intervened."""
        while True:
            rebuilds = self.rebuilds
            self.retrieved.clear()
            ids = list(session.conversation.item_ids)
            asked = {await session.retrieve_item(item_id): item_id for item_id in ids}
            await until(
                partial(self._fetched, set(ids), set(asked), rebuilds), "every item retrieved"
            )
            missing = [asked[e] for e in asked if e in self.refused]
            assert self.rebuilds != rebuilds or not missing, (
                f"the server lacks items the client holds: {missing}: "
                f"{[self.refused[e] for e in asked if e in self.refused]}"
            )
            if self.rebuilds == rebuilds and ids == list(session.conversation.item_ids):
                break
        mirror = [_dump(item) for item in session.conversation.items]
        server = [_dump(self.retrieved[item_id]) for item_id in ids]
        differing = [(m, s) for m, s in zip(mirror, server, strict=True) if m != s]
        assert not differing, f"client and server disagree on {len(differing)}: {differing[:2]}"
        assert len(set(ids)) == len(ids), "an item twice in the conversation"
        runs = session.tools.runs
        assert set(runs.values()) <= {1}, f"a tool ran more than once: {runs}"
        calls = [i.call_id for i in session.conversation.items if i.type == "function_call"]
        outputs = [
            i.call_id for i in session.conversation.items if i.type == "function_call_output"
        ]
        assert sorted(calls) == sorted(set(calls)), f"a call twice; {describe(session)}"
        assert sorted(outputs) == sorted(calls), (
            f"a call without exactly one output (conversation seed {self.seed}); "
            f"{describe(session)}"
        )
        # A call the lost session cut short never runs: the client answers it with an error
        # output saying so (tools.py, _answer_interrupted_calls). Every other call ran.
        said_not_run = {
            i.call_id
            for i in session.conversation.items
            if i.type == "function_call_output" and "the tool did not run" in (i.output or "")
        }
        never_ran = set(calls) - set(runs)
        assert never_ran <= said_not_run, (
            f"a call the app's tool never ran, answered as if it had: {never_ran - said_not_run} "
            f"(conversation seed {self.seed}); {describe(session)}"
        )
        assert not (said_not_run & set(runs)), "a call answered as not run that ran"
        assert [i for i, n in self.delivered.items() if n > 1] == []
        self.stats["items"] += len(ids)
        self.stats["tool_runs"] += sum(runs.values())


def _text_of(item: Any) -> str | None:
    content = getattr(item, "content", None) or []
    if getattr(item, "role", None) != "user" or not content:
        return None
    text = getattr(content[0], "text", None)
    return text if isinstance(text, str) else None
