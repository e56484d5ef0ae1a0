"""An ended session is freed by reference counting alone.

A session whose objects sit in reference cycles is freed only by a full
collection, and a full collection stops every session of the process (tens of
ms per hundred live sessions; docs/benchmarks.md, "A new machine"). So with
the collector off from start to end, the host must be gone as soon as the
session ends, and a collection afterwards must find nothing of the server's in
cycles (asyncio's own socket transport keeps one cycle, which is not ours).
"""

from __future__ import annotations

import base64
import gc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cycle_kit import collector_off, ended_and_freed, only_host  # noqa: F401  (fixture)
from server_harness import RawClient, session

from rtagents.engines.scripted import scripted_engines, scripted_speech
from rtagents.server.config import ServerConfig
from rtagents.server.host.recording_observer import session_recorders
from rtagents.server.serving import RunningServer, running_server
from rtagents.transports.memory import MemoryTransport

CHUNK = 9600  # 200 ms of pcm16 at 24 kHz


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0), scripted_engines()) as running:
        yield running


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


@pytest.mark.usefixtures("collector_off")
async def test_an_ended_session_is_freed_without_the_collector(server: RunningServer) -> None:
    async with session(server, push_to_talk=False) as client:
        host = only_host(server.app.state.rtagents.sessions)
        await _a_busy_session(client)
    assert await ended_and_freed(host) == (False, [])


@pytest.mark.usefixtures("collector_off")
async def test_a_session_the_server_closes_is_freed_too() -> None:
    async with running_server(
        ServerConfig(port=0, session_cap_s=0.5), scripted_engines()
    ) as server:
        async with session(server, push_to_talk=False) as client:
            host = only_host(server.app.state.rtagents.sessions)
            await client.user_text("hello")
            await client.until("error")  # session_expired, then the server closes
        assert await ended_and_freed(host) == (False, [])


@pytest.mark.usefixtures("collector_off")
async def test_a_session_whose_client_vanished_mid_reply_is_freed_too(
    server: RunningServer,
) -> None:
    async with session(server, push_to_talk=False) as client:
        host = only_host(server.app.state.rtagents.sessions)
        await client.user_text("tell me about the weather")
        await client.send({"type": "response.create"})
        await client.until("response.output_audio.delta")
        ws = client.ws
        assert not isinstance(ws, MemoryTransport)
        ws.transport.abort()  # no close frame: the server's next send finds the peer gone
        assert await ended_and_freed(host) == (False, [])


@pytest.mark.usefixtures("collector_off")
async def test_a_recorded_session_is_freed_without_the_collector_too(tmp_path: Path) -> None:
    """``serve --record``: the recorder is an observer the host holds, so it must not hold
    the host back once the session ended (it did: every recorded session's state then
    waited for a full collection), nor its writer sit in a cycle with its files."""
    config = ServerConfig(port=0, observers=(session_recorders(tmp_path),))
    async with running_server(config, scripted_engines()) as server:
        async with session(server, push_to_talk=False) as client:
            host = only_host(server.app.state.rtagents.sessions)
            await _a_busy_session(client)
        assert await ended_and_freed(host) == (False, [])
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        recorded = {type(o).__module__ for o in gc.garbage} & {
            "rtagents.observability.recording",
            "rtagents.observability.recording_parts",
            "rtagents.server.host.recording_observer",
        }
        gc.set_debug(0)
        gc.garbage.clear()
    assert recorded == set()
    assert len(_recordings(tmp_path)) == 1


def _recordings(folder: Path) -> list[Path]:
    return list(folder.glob("*.jsonl"))
