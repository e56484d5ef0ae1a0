"""An ended session is freed by reference counting alone.

A session whose objects sit in reference cycles is freed only by a full
collection, and a full collection stops every session of the process (tens of
ms per hundred live sessions; docs/benchmarks.md, "A new machine"). So with
the collector off from start to end, the host must be gone as soon as the
session ends, and a collection afterwards must find nothing of the server's in
cycles (asyncio's own socket transport keeps one cycle, which is not ours).
"""

from __future__ import annotations

import asyncio
import base64
import gc
import weakref
from collections.abc import AsyncIterator, Iterator

import pytest
from server_harness import RawClient, session

from rtagents.engines.scripted import scripted_engines, scripted_speech
from rtagents.server.config import ServerConfig
from rtagents.server.host.session_host import SessionHost
from rtagents.server.serving import RunningServer, running_server
from rtagents.transports.memory import MemoryTransport

CHUNK = 9600  # 200 ms of pcm16 at 24 kHz


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0), scripted_engines()) as running:
        yield running


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def _cyclic_server_objects() -> list[str]:
    """Types of the server's objects that only a collection could free."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    found = [type(o) for o in gc.garbage]
    gc.set_debug(0)
    gc.garbage.clear()
    return sorted({f"{t.__module__}.{t.__qualname__}" for t in found if _ours(t)})


def _ours(kind: type) -> bool:
    return kind.__module__.startswith("rtagents.server")


async def _a_busy_session(client: RawClient) -> None:
    """Turns detected by the VAD, a response run to its end and one cancelled."""
    speech = scripted_speech("what is the weather") + bytes(2 * 24_000)  # and 1 s of silence
    for start in range(0, len(speech), CHUNK):
        piece = base64.b64encode(speech[start : start + CHUNK]).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": piece})
    await client.until("response.done")  # server VAD: speech, a turn, a reply
    await client.user_text("tell me more")
    await client.respond()
    await client.send({"type": "response.create"})
    await client.send({"type": "response.cancel"})
    await client.until("response.done")


async def _ended(host: weakref.ref[SessionHost]) -> None:
    live = host()
    if live is not None:
        await asyncio.wait_for(live.wait_closed(), 10)
    del live
    for _ in range(20):  # the connection's handler and tasks wind down
        await asyncio.sleep(0.01)


async def test_an_ended_session_is_freed_without_the_collector(
    server: RunningServer, collector_off: None
) -> None:
    async with session(server, push_to_talk=False) as client:
        [live] = server.app.state.rtagents.sessions
        host = weakref.ref(live)
        del live
        await _a_busy_session(client)
    await _ended(host)
    assert host() is None, "the ended session is still held (or waits for a collection)"
    assert _cyclic_server_objects() == []


async def test_a_session_the_server_closes_is_freed_too(collector_off: None) -> None:
    async with running_server(
        ServerConfig(port=0, session_cap_s=0.5), scripted_engines()
    ) as server:
        async with session(server, push_to_talk=False) as client:
            [live] = server.app.state.rtagents.sessions
            host = weakref.ref(live)
            del live
            await client.user_text("hello")
            await client.until("error")  # session_expired, then the server closes
        await _ended(host)
        assert host() is None
        assert _cyclic_server_objects() == []


async def test_a_session_whose_client_vanished_mid_reply_is_freed_too(
    server: RunningServer, collector_off: None
) -> None:
    async with session(server, push_to_talk=False) as client:
        [live] = server.app.state.rtagents.sessions
        host = weakref.ref(live)
        del live
        await client.user_text("tell me about the weather")
        await client.send({"type": "response.create"})
        await client.until("response.output_audio.delta")
        ws = client.ws
        assert not isinstance(ws, MemoryTransport)
        ws.transport.abort()  # no close frame: the server's next send finds the peer gone
        await _ended(host)
    assert host() is None, "the ended session is still held (or waits for a collection)"
    assert _cyclic_server_objects() == []
