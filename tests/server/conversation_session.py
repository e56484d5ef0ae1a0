"""The session side of the model-based conversation test: one server, one session per sequence.

:class:`Live` runs the server (scripted voice, :class:`WatchedLLM`) on a
loop thread for the whole module, with a :class:`ServerTap` on it.
:class:`SessionSteps` is the state machine's base: it opens a client session
per sequence (into the server's own state over the memory transport: the
socket is not what the model checks; ``test_long_sessions`` keeps the wire),
sends a step and waits for its answer, and after every step checks the four
views against the reference model (see ``test_conversation_model.py`` for the
steps themselves).
"""

from __future__ import annotations

import asyncio
from typing import Any

from conversation_model import LoopThread, ReferenceConversation, WatchedLLM, WatchedTTS
from exactness import ClientTap, ServerTap, comparable, first_difference
from hypothesis.stateful import RuleBasedStateMachine, invariant

from rtagents import connect
from rtagents.client import Session
from rtagents.client.events import new_event_id
from rtagents.engines.base import Engines
from rtagents.engines.scripted import ScriptedSTT
from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server
from rtagents.testing.in_memory import MEMORY_URL, MemoryServer

SESSION = {
    "type": "realtime",
    "output_modalities": ["text"],
    "audio": {"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}},
}
WAIT_S = 30.0


class Live:
    """The server (one for all sequences), its tap and model, on a loop thread."""

    def __init__(self) -> None:
        self.loop = LoopThread()
        self.llm = WatchedLLM()
        self.server_tap = ServerTap()
        tts = WatchedTTS(self.llm)
        engines = Engines(llm=self.llm, tts=tts, stt=ScriptedSTT(), name="scripted")
        self._server = running_server(
            ServerConfig(port=0, observers=[self.server_tap.observer]), engines
        )
        self.running = self.loop.run(self._server.__aenter__())

    def close(self) -> None:
        self.loop.run(self._server.__aexit__(None, None, None))
        self.loop.stop()


LIVE: Live | None = None  # the module's server, set by the test for __init__
TALLY = {"sequences": 0, "checks": 0}  # printed at the end (for docs/reliability.md)


def item_text(item: dict[str, Any]) -> str:
    """A message's text as history reads it: texts and transcripts, space-joined."""
    parts = [p.get("text") or p.get("transcript") or "" for p in item.get("content") or []]
    return " ".join(part for part in parts if part).strip()


class SessionSteps(RuleBasedStateMachine):
    """Plumbing and the checks after every step; subclasses add the rules."""

    def __init__(self) -> None:
        super().__init__()
        assert LIVE is not None
        self.live = LIVE
        self.model = ReferenceConversation()
        self.serial = 0
        self.session, self.tap = self.run(self._open())
        TALLY["sequences"] += 1
        self.host = self.live.server_tap.host_of(self.session)
        self.ids_seen: set[str] = set()
        self.checked = 0

    # --- plumbing -------------------------------------------------------------

    def run(self, coro: Any) -> Any:
        return self.live.loop.run(coro)

    async def _open(self) -> tuple[Session, ClientTap]:
        running = self.live.running
        self.opener = MemoryServer(server_state(running.app))
        connector = connect(
            MEMORY_URL, credentials=running.api_key, session=SESSION, transport=self.opener.open
        )
        tap = ClientTap(connector.session, keep_audio=True)
        return await connector.__aenter__(), tap

    def teardown(self) -> None:
        self.run(self.session.close())
        self.run(self.opener.close())
        self.live.server_tap.emitted.pop(self.host, None)

    def fresh(self) -> str:
        self.serial += 1
        return f"note {self.serial}"

    async def request(self, event: dict[str, Any], answers: tuple[str, ...]) -> Any:
        """Send ``event``; the first of ``answers`` that follows (or its error)."""
        event_id = event.setdefault("event_id", new_event_id())
        waiter = asyncio.ensure_future(
            self.session.wait_for(
                (*answers, "error"),
                predicate=lambda e: e.type != "error" or e.error.event_id == event_id,
                timeout=WAIT_S,
            )
        )
        await asyncio.sleep(0)
        await self.session.send(event)
        return await waiter

    async def refused(self, event: dict[str, Any], code: str) -> None:
        answer = await self.request(event, ())
        assert answer.type == "error" and answer.error.code == code, answer

    # --- the checks after every step ----------------------------------------------

    @invariant()
    def agrees(self) -> None:
        self.run(self._agrees())
        TALLY["checks"] += 1

    async def _agrees(self) -> None:
        emitted = self.live.server_tap.emitted[self.host]
        mirror = [comparable(item) for item in self.session.conversation.items]
        retrieved = await self._retrieve_all()
        await self.tap.caught_up(len(emitted))
        assert self.tap.handled == emitted, first_difference(self.tap.handled, emitted)
        for _, event_id in emitted[self.checked :]:
            assert event_id is not None and event_id not in self.ids_seen, event_id
            self.ids_seen.add(event_id)
        self.checked = len(emitted)
        ids = self.model.ids
        assert self.tap.announced == ids, "announced order"
        assert self.session.conversation.item_ids == ids, "client mirror order"
        assert self.host.conversation.item_ids == ids, "server order"
        assert mirror == [comparable(item) for item in self.host.conversation.items]
        assert retrieved == mirror, "retrieve"
        for entry, item in zip(self.model.entries, mirror, strict=True):
            assert (item["type"], item["role"]) == (entry.type, entry.role), entry
            assert item_text(item) == entry.text.strip(), (entry, item)

    async def _retrieve_all(self) -> list[dict[str, Any]]:
        """Every item's server copy, asked for all at once and matched by id."""
        wanted = self.session.conversation.item_ids
        got: dict[str, Any] = {}
        done = asyncio.get_running_loop().create_future()

        def take(event: Any) -> None:
            got[event.item.id] = comparable(event.item)
            if len(got) == len(wanted) and not done.done():
                done.set_result(None)

        self.session.on("conversation.item.retrieved", take)
        try:
            for item_id in wanted:
                await self.session.retrieve_item(item_id)
            if wanted:
                await asyncio.wait_for(done, WAIT_S)
        finally:
            self.session.off("conversation.item.retrieved", take)
        return [got[item_id] for item_id in wanted]
