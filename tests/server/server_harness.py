"""A raw Realtime client for server tests: ``websockets`` plus the codec, nothing else.

Deliberately not the SDK in ``rtagents.client``: these tests pin the server's
wire behaviour, so the client side stays as thin as a stock one. It talks over
a real WebSocket (:func:`session`) when the socket is what a test checks
(handshake, auth, headers, close frames), and otherwise straight into a host
of the same server over the memory transport (:func:`memory_session`, what the
``client`` fixture gives): same host, same pipeline, no socket in between.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect

from rtagents.protocol.codec import InvalidEvent, UnknownEvent, decode_server_event, encode_event
from rtagents.server.app import server_state
from rtagents.server.serving import RunningServer
from rtagents.testing.in_memory import MemoryServer
from rtagents.transports.memory import MemoryTransport

T = TypeVar("T")
TIMEOUT_S = 5.0
# A new realtime session listens for turns (server_vad, as hosted). Most server
# tests drive the buffer themselves (append, commit, response.create), so the
# harness's sessions start push-to-talk unless a test asks for the default
# (``push_to_talk=False``); tests of turn detection set it explicitly.
PUSH_TO_TALK = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
# A wait fails when nothing arrived for TIMEOUT_S *and* this process did almost
# no work meanwhile (a hang), never merely because a loaded 2-core machine made
# the engines slow: Whisper, onnxruntime, llama.cpp and Piper run in this
# process's threads, so their progress shows as its CPU time.
_IDLE_CPU_SHARE = 0.02
PROGRESS_CAP_S = 90.0


async def wait_following_progress(awaitable: Awaitable[T], stall_s: float = TIMEOUT_S) -> T:
    """``awaitable``'s result; TimeoutError after ``stall_s`` without progress (or the cap)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(awaitable)
    started = loop.time()
    try:
        while True:
            cpu = time.process_time()
            done, _ = await asyncio.wait({task}, timeout=stall_s)
            if done:
                return task.result()
            worked = time.process_time() - cpu
            if worked < stall_s * _IDLE_CPU_SHARE or loop.time() - started > PROGRESS_CAP_S:
                raise TimeoutError(
                    f"nothing arrived for {stall_s:.0f} s and the process used only "
                    f"{worked:.2f} s of CPU meanwhile ({loop.time() - started:.0f} s in all)"
                )
    finally:
        task.cancel()


class EventReader:
    """Reading validated server events off any raw transport (WebSocket or data channel)."""

    timeout_s = TIMEOUT_S

    async def recv_raw(self) -> str | bytes:
        raise NotImplementedError

    async def recv(self) -> Any:
        raw = await wait_following_progress(self.recv_raw(), self.timeout_s)
        event = decode_server_event(raw)
        assert not isinstance(event, UnknownEvent | InvalidEvent), event
        return event

    async def until(self, event_type: str) -> list[Any]:
        """Events up to and including the first of ``event_type``."""
        events = []
        while True:
            event = await self.recv()
            events.append(event)
            if event.type == event_type:
                return events


class RawClient(EventReader):
    """Sends dict events, receives validated server event models.

    ``ws`` is a ``websockets`` connection, or in memory mode the client's end of
    a memory link (it too sends text or bytes and receives what the host sent).
    """

    def __init__(self, ws: ClientConnection | MemoryTransport) -> None:
        self.ws = ws
        self._backlog: deque[Any] = deque()

    async def send(self, event: Mapping[str, Any]) -> None:
        await self.ws.send(encode_event(event))

    async def recv_raw(self) -> str | bytes:
        return await self.ws.recv()

    async def recv(self) -> Any:
        if self._backlog:
            return self._backlog.popleft()
        return await super().recv()

    async def error(self, event: Mapping[str, Any], *, interleaved: bool = False) -> Any:
        """Send ``event`` and return the ``error`` it provokes.

        The error must be the next event, unless ``interleaved`` (a response is
        streaming): then other events are set aside for later reads.
        """
        await self.send(event)
        skipped = []
        while True:
            reply = await self.recv()
            if reply.type == "error" or not interleaved:
                break
            skipped.append(reply)
        self._backlog.extendleft(reversed(skipped))
        assert reply.type == "error", reply
        return reply.error

    async def roundtrip(self, event: Mapping[str, Any], reply_type: str) -> Any:
        await self.send(event)
        reply = await self.recv()
        assert reply.type == reply_type, reply
        return reply

    async def say(self, text: str, *, chunk: int = 9600) -> None:
        """Append pcm16 24 kHz audio of ``text`` in several events, then commit."""
        from rtagents.engines.scripted import scripted_speech

        audio = scripted_speech(text)
        for start in range(0, len(audio), chunk):
            piece = base64.b64encode(audio[start : start + chunk]).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": piece})
        await self.send({"type": "input_audio_buffer.commit"})

    async def respond(self, response: Mapping[str, Any] | None = None) -> list[Any]:
        """``response.create``; the events through ``rate_limits.updated`` (which ends it)."""
        event: dict[str, Any] = {"type": "response.create"}
        if response is not None:
            event["response"] = dict(response)
        await self.send(event)
        return await self.until("rate_limits.updated")

    async def user_text(self, text: str) -> str:
        """Add a user text item; returns its id."""
        await self.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
        events = await self.until("conversation.item.done")
        return str(events[-1].item.id)


def types(events: Sequence[Any]) -> list[str]:
    return [event.type for event in events]


def audio_bytes(events: Sequence[Any]) -> int:
    return sum(
        len(base64.b64decode(e.delta)) for e in events if e.type == "response.output_audio.delta"
    )


@asynccontextmanager
async def session(
    server: RunningServer,
    *,
    key: str | None = None,
    query: str = "model=gpt-realtime",
    headers: Mapping[str, str] | None = None,
    subprotocols: Sequence[str] | None = None,
    greet: bool = True,
    push_to_talk: bool = True,
) -> AsyncIterator[RawClient]:
    """A connected client; with ``greet`` the session.created/conversation.created are read.

    With ``greet`` and ``push_to_talk`` (and no secret, whose own config rules) a
    realtime session is also switched to push-to-talk (see :data:`PUSH_TO_TALK`).
    """
    all_headers = dict(headers or {})
    if key is not None or (headers is None and subprotocols is None):
        all_headers.setdefault("Authorization", f"Bearer {key or server.api_key}")
    async with connect(
        f"{server.ws_url}?{query}",
        additional_headers=all_headers,
        subprotocols=list(subprotocols) if subprotocols else None,
        open_timeout=TIMEOUT_S,
    ) as ws:
        client = RawClient(ws)
        if greet:
            await _greet(client, push_to_talk=push_to_talk and key is None)
        yield client


@asynccontextmanager
async def memory_session(
    server: RunningServer,
    *,
    query: str = "model=gpt-realtime",
    greet: bool = True,
    push_to_talk: bool = True,
) -> AsyncIterator[RawClient]:
    """Like :func:`session`, minus the socket: a host of ``server``'s own state, in memory.

    No handshake happens, so there is nothing to authenticate; tests of auth,
    headers, subprotocols or close frames use :func:`session`.
    """
    opener = MemoryServer(server_state(server.app))
    try:
        client = RawClient(await opener.open(f"ws://memory.invalid/v1/realtime?{query}"))
        if greet:
            await _greet(client, push_to_talk=push_to_talk)
        yield client
    finally:
        await opener.close()


async def _greet(client: RawClient, *, push_to_talk: bool) -> None:
    """Read session.created and conversation.created; then go push-to-talk if asked."""
    created = await client.recv()
    assert created.type == "session.created"
    assert (await client.recv()).type == "conversation.created"
    if push_to_talk and created.session.type == "realtime":
        if created.session.audio.input.turn_detection is not None:
            await client.roundtrip(
                {"type": "session.update", "session": PUSH_TO_TALK}, "session.updated"
            )


async def mint(
    server: RunningServer, body: Mapping[str, Any] | None = None, *, key: str | None = None
) -> Any:
    """POST /v1/realtime/client_secrets; returns the httpx response."""
    import httpx

    async with httpx.AsyncClient(base_url=server.http_url) as http:
        return await http.post(
            "/v1/realtime/client_secrets",
            json=body if body is not None else {},
            headers={"Authorization": f"Bearer {key or server.api_key}"},
        )
