"""The pieces of the model-based conversation test: a reference model, a watched LLM, a loop.

:class:`ReferenceConversation` is the GA conversation semantics written down
as plainly as possible (a list of items; what each operation does to it;
what history a response hands the model and what it answers), independent of
the server's and the client's code. :class:`WatchedLLM` is the scripted model
that also records the history each request carried (keyed by the response's
``metadata.step``) and, when asked, stops after its first word until released,
so a cancel or a delete lands while the response is still streaming
(``metadata.hold``: how many words it says first).
:class:`LoopThread` runs the server and the client on one event loop in a
thread, so hypothesis' synchronous state machine can drive them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rtagents.engines.base import LLMChunk, LLMRequest, TextDelta
from rtagents.engines.scripted import GREETING, ScriptedLLM, ScriptedTTS

T = TypeVar("T")
STEP_TIMEOUT_S = 60.0


@dataclass
class Entry:
    """One item as the reference model knows it: what history gives the model."""

    id: str
    type: str  # "message" only, in this model
    role: str
    text: str  # the text (or transcript) the model is given for it
    audio_ms: float = 0.0  # output audio produced (assistant audio replies)


@dataclass
class ReferenceConversation:
    """The conversation as the GA semantics say it must be."""

    entries: list[Entry] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [entry.id for entry in self.entries]

    def find(self, item_id: str) -> Entry | None:
        return next((entry for entry in self.entries if entry.id == item_id), None)

    def insert(self, entry: Entry, previous: str | None) -> None:
        """``previous`` ``"root"``: first; an id: right after it; absent or null: last."""
        if previous == "root":
            self.entries.insert(0, entry)
        elif previous is not None:
            index = self.ids.index(previous)
            self.entries.insert(index + 1, entry)
        else:
            self.entries.append(entry)

    def delete(self, item_id: str) -> None:
        self.entries = [entry for entry in self.entries if entry.id != item_id]

    def history(self) -> list[tuple[str, str]]:
        """What a response over the whole conversation gives the model."""
        return history_of(self.entries)


def history_of(entries: list[Entry]) -> list[tuple[str, str]]:
    """(role, text) per message with text, in order: what the model reads (trimmed)."""
    return [(entry.role, entry.text.strip()) for entry in entries if entry.text.strip()]


def expected_reply(history: list[tuple[str, str]]) -> str:
    """The scripted model's answer: it echoes the latest user text it was given."""
    for role, text in reversed(history):
        if role == "user":
            return f"You said: {text}"
    return GREETING


class WatchedLLM(ScriptedLLM):
    """The scripted LLM, plus the requests it got and a hold for mid-stream steps."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: dict[str, list[tuple[str, str]]] = {}
        self.released = asyncio.Event()
        self.started = asyncio.Event()
        self.hold_speech = False

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        step = request.metadata.get("step")
        if step is not None:
            self.requests[step] = [(m.role, m.content) for m in request.messages]
        hold = int(request.metadata.get("hold", "0"))  # words to say before holding
        words = 0
        async for chunk in super().stream(request):
            if hold and isinstance(chunk, TextDelta) and words == hold:
                self.started.set()
                await self.released.wait()  # a cancel ends the wait here
            words += isinstance(chunk, TextDelta)
            yield chunk
        if not self.hold_speech:
            self.started.set()  # a reply shorter than the hold never stopped

    def arm(self, *, in_speech: bool = False) -> None:
        """Reset the hold for the next held response (``in_speech``: hold the voice instead)."""
        self.released = asyncio.Event()
        self.started = asyncio.Event()
        self.hold_speech = in_speech


class WatchedTTS(ScriptedTTS):
    """The scripted voice; when its LLM was armed ``in_speech``, it stops mid-clause.

    The clause's transcript is already out then, and only its first word's
    audio: where a cancel shows whether the transcript keeps unspoken words.
    """

    def __init__(self, llm: WatchedLLM) -> None:
        self.llm = llm

    async def synthesize(
        self, text: str, *, voice: str, speed: float = 1.0
    ) -> AsyncGenerator[bytes, None]:
        async for chunk in super().synthesize(text, voice=voice, speed=speed):
            yield chunk
            if self.llm.hold_speech:
                self.llm.hold_speech = False
                self.llm.started.set()
                await self.llm.released.wait()


class LoopThread:
    """An event loop in a daemon thread; ``run`` waits for a coroutine from sync code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = STEP_TIMEOUT_S) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
