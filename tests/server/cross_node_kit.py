"""Two ``rtagents serve --redis`` nodes, a client that fails over between them, and checks.

:class:`Failover` is the client's opener: each dial starts at the next node,
as a round-robin load balancer would, and a node that refuses the TCP
connection (killed) is skipped within the same dial. An HTTP refusal (503
while the dead node's liveness expires, 404, 409) is the client's to handle.

:class:`App` plays an app over the resilient SDK session: tool turns, asking
again when a kill failed the response it was waiting for, then checks its
conversation against the server's, item by item.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rtagents import connect
from rtagents.client import ReconnectPolicy, Session
from rtagents.testing.server_process import ServerProcess
from rtagents.transports.base import Transport
from rtagents.transports.websocket import connect_websocket

WAIT_S = 60.0
CONFIG = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "audio": {"input": {"turn_detection": None}},
}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}}
RULES = """
[[rules]]
name = "weather"
keywords = ["weather"]
call = "get_weather"
arguments = { city = "Paris" }
say = "Here is the weather you asked about: {output}. It stays like that all day long, with a \
light wind from the west, and the evening will be mild; take a light jacket if you go out late."
"""
TOOL_S = 0.15  # the app's tool takes a moment: kills land while it runs
# Rides out a node's liveness expiring (2 s) after a kill, and a busy machine.
POLICY = ReconnectPolicy(max_attempts=60, base_delay=0.05, max_delay=0.5, rollover_margin=None)


class Failover:
    """A client opener over several nodes' ports: round-robin, skipping dead nodes."""

    def __init__(self, ports: Sequence[int]) -> None:
        self.ports = list(ports)
        self._next = 0
        self.dialed: list[int] = []

    async def __call__(
        self, url: str, headers: Mapping[str, str], open_timeout: float
    ) -> Transport:
        failure: BaseException | None = None
        for offset in range(len(self.ports)):
            port = self.ports[(self._next + offset) % len(self.ports)]
            parts = urlsplit(url)
            target = urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))
            try:
                transport = await connect_websocket(
                    target, headers=headers, open_timeout=open_timeout, close_timeout=0.1
                )
            except Exception as exc:
                if getattr(exc, "status", None) is not None:
                    self._next = (self._next + offset + 1) % len(self.ports)
                    raise  # the node answered: resume, rebuild or give up is the client's call
                failure = exc
                continue
            self._next = (self._next + offset + 1) % len(self.ports)
            self.dialed.append(port)
            return transport
        assert failure is not None
        raise failure


async def until(check: Callable[[], bool], what: str, session: Session | None = None) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; {describe(session)}")
        await asyncio.sleep(0.01)


def describe(session: Session | None) -> str:
    if session is None:
        return ""
    items = [
        f"{i.type}/{getattr(i, 'status', None)}:{getattr(i, 'call_id', '') or _text_of(i) or ''}"
        for i in session.conversation.items
    ]
    responses = {r.id: r.status for r in session.conversation.responses.values()}
    return f"state={session.state} items={items} responses={responses}"


class App:
    """One session, turn after turn; ``on_turn`` is awaited as each turn is asked."""

    def __init__(self, nodes: Sequence[ServerProcess], seed: int) -> None:
        self.nodes = nodes
        self.rng = random.Random(seed)
        self.opener = Failover([node.port for node in nodes])
        self.stats: Counter[str] = Counter()
        self.delivered: Counter[str] = Counter()
        self.retrieved: dict[str, Any] = {}
        self.resumed_at: list[float] = []
        self.session: Session | None = None
        self.tools_running = 0

    async def moment(self, session: Session, rng: random.Random) -> None:
        """Wait for a random moment of the turn just asked: its frames in flight, its first
        response streaming, its tool running, or the answer after the tool streaming (a turn
        without that moment is killed when it does not come within a second)."""
        runs = sum(session.tools.runs.values())
        kind = rng.choice(["asked", "streaming", "tool", "answer"])
        conditions: dict[str, Callable[[], bool]] = {
            "asked": lambda: True,
            "streaming": lambda: self._streaming(session),
            "tool": lambda: self.tools_running > 0,
            "answer": lambda: sum(session.tools.runs.values()) > runs and self._streaming(session),
        }
        deadline = time.monotonic() + 1.0
        while not conditions[kind]() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        await asyncio.sleep(rng.uniform(0, TOOL_S if kind == "tool" else 0.03))

    @staticmethod
    def _streaming(session: Session) -> bool:
        return any(r.status == "in_progress" for r in session.conversation.responses.values())

    def phase(self, session: Session) -> str:
        """Where a kill now lands: while a tool runs, mid-response, or between responses."""
        if self.tools_running:
            return "tool in flight"
        if self._streaming(session):
            return "mid-response"
        return "between responses"

    def connect(self) -> Any:
        return connect(
            self.nodes[0].ws_url,
            credentials=self.nodes[0].api_key,
            model="gpt-realtime",
            session=CONFIG,
            reconnect=POLICY,
            transport=self.opener,
            stall_timeout=None,
            open_timeout=6.0,
        )

    async def setup(self, session: Session) -> None:
        self.session = session
        session.on("*", self._delivered)
        session.on("rtagents.resumed", self._resumed)
        session.on("conversation.item.retrieved", self._retrieved)

        @session.tools.register(parameters=WEATHER)
        async def get_weather(city: str) -> dict[str, str]:
            self.tools_running += 1
            try:
                await asyncio.sleep(TOOL_S)
            finally:
                self.tools_running -= 1
            return {"city": city, "forecast": "sunny"}

        await session.update_session({"type": "realtime", "tools": session.tools.definitions()})

    def _delivered(self, event: Any) -> None:
        if event.event_id:
            self.delivered[event.event_id] += 1

    def _resumed(self, event: Any) -> None:
        self.stats["rebuilt" if event.rebuilt else "resumed"] += 1
        self.resumed_at.append(time.monotonic())

    def _retrieved(self, event: Any) -> None:
        self.retrieved[event.item.id] = event.item

    async def turn(self, session: Session, turn: int) -> None:
        """Ask (a tool turn or a plain one) until a completed response answers it."""
        text = f"weather in turn {turn}" if self.rng.random() < 0.7 else f"hello, turn {turn}"
        await session.send_text(text)
        await session.create_response()
        while True:
            seen = set(session.conversation.responses)
            await until(
                lambda s=seen: self._answered(session, text) or self._failed_since(session, s),
                f"turn {turn} ({text!r})",
                session,
            )
            if self._answered(session, text):
                self.stats["turns"] += 1
                return
            failed = self._failed_since(session, seen)
            tool = self._tool_will_answer(session, failed)
            self.stats["failed mid-call" if tool else "failed responses"] += 1
            if not tool:
                await until(lambda: session.connection is not None, "the resumed session")
                await session.create_response()

    def _answered(self, session: Session, text: str) -> bool:
        items = list(session.conversation.items)
        asked = [i for i, item in enumerate(items) if _text_of(item) == text]
        if not asked:
            return False
        answers = {i.id for i in items[asked[-1] + 1 :] if getattr(i, "role", None) == "assistant"}
        return any(
            r.status == "completed" and answers & set(r.output_item_ids)
            for r in session.conversation.responses.values()
        )

    @staticmethod
    def _failed_since(session: Session, seen: set[str]) -> list[str]:
        responses = session.conversation.responses
        return [rid for rid, r in responses.items() if r.status == "failed" and rid not in seen]

    @staticmethod
    def _tool_will_answer(session: Session, failed: list[str]) -> bool:
        """A failed response whose call finished: the tool runner sends its output and asks
        for the next response itself."""
        for response_id in failed:
            for item_id in session.conversation.responses[response_id].output_item_ids:
                item = session.conversation.get(item_id)
                if getattr(item, "type", None) == "function_call" and item.status == "completed":  # type: ignore[union-attr]
                    return True
        return False

    async def verify(self, session: Session) -> None:
        """The server's copy of every item equals the client's; each tool ran once."""
        self.retrieved.clear()
        ids = list(session.conversation.item_ids)
        for item_id in ids:
            await session.retrieve_item(item_id)
        await until(lambda: set(ids) <= set(self.retrieved), "every item retrieved", session)
        mirror = [_dump(item) for item in session.conversation.items]
        server = [_dump(self.retrieved[item_id]) for item_id in ids]
        differing = [(m, s) for m, s in zip(mirror, server, strict=True) if m != s]
        assert not differing, f"client and server disagree on {len(differing)}: {differing[:2]}"
        assert len(set(ids)) == len(ids), "an item twice in the conversation"
        runs = session.tools.runs
        assert set(runs.values()) <= {1}, f"a tool ran more than once: {runs}"
        items = session.conversation.items
        finished = [
            i.call_id for i in items if i.type == "function_call" and i.status == "completed"
        ]
        outputs = [i.call_id for i in items if i.type == "function_call_output"]
        assert sorted(outputs) == sorted(finished), f"calls and outputs differ; {describe(session)}"
        assert set(finished) == set(runs), "a finished call the tool never ran, or the reverse"
        assert [e for e, n in self.delivered.items() if n > 1] == [], "an event delivered twice"
        self.stats["items"] += len(ids)
        self.stats["tool runs"] += sum(runs.values())


def _dump(item: Any) -> dict[str, Any]:
    data: dict[str, Any] = item.model_dump(exclude_none=True)
    for part in data.get("content", []):
        part.pop("audio", None)  # retrieve returns audio bytes where a node has them
    return data


def _text_of(item: Any) -> str | None:
    content = getattr(item, "content", None) or []
    if getattr(item, "role", None) != "user" or not content:
        return None
    text = getattr(content[0], "text", None)
    return text if isinstance(text, str) else None
