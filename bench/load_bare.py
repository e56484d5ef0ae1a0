"""The baseline of ``bench/load.py --bare``: a bare ``websockets`` server sending the same frames.

What a user could write instead of a Realtime server, and the floor of what
the transport costs: the ``websockets`` library's asyncio server, one
connection per session, no parsing, no VAD, no state. It receives the load
generator's frames and answers each with exactly the frames the real server
sends after it, so both servers move the same bytes and the CPU they spend
per streamed audio second compares the work around the socket (issue 15,
goal 4: the real server at most 2x this).

The frames are captured once at start-up from the real server (the scripted
engine, ``server_vad``, in memory): one session, the load generator's
``session.update`` and two of its turns, recording which frames followed
each append. Connections then replay them: the greeting on connect,
``session.updated`` after the first frame, and after the k-th append of a
turn the frames the real server sent after the k-th append of the second
captured turn (the first may differ: it starts the session's audio).

Like ``load_server.py`` it prints one JSON line once listening (urls, key,
control port), stamps each frame as it is handed to ``send`` (so delivery is
measured the same way) and stops when its stdin closes.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable

from load_client import CHUNK_MS, SESSION_UPDATE, TURN_CHUNKS, turn_frames
from load_server import STAMPS, hand_over_stamps, time_collections
from websockets.asyncio.server import ServerConnection, serve

from rtagents.engines.scripted import scripted_engines
from rtagents.server.app import create_app, server_state
from rtagents.server.config import ServerConfig
from rtagents.testing.in_memory import MemoryServer
from rtagents.transports.base import Transport

KEY = "sk-bench-bare"
QUIET_S = 0.05  # no frame for this long after an append: the server has said all it will


_AUDIO_MS = re.compile(r'"audio_(start|end)_ms":(\d+)')


class Script:
    """The real server's frames: the greeting, the answer to ``session.update``, and
    what followed each append of a turn (index k = the k-th append, from 0)."""

    def __init__(self, greeting: list[str], updated: list[str], turn: list[list[str]]) -> None:
        self.greeting, self.updated, self.turn = greeting, updated, turn
        self.session_id = json.loads(greeting[0])["session"]["id"]
        self.sessions = 0

    def greeting_for_new_session(self) -> tuple[str, list[str]]:
        """The greeting with a session id of its own (the load generator keys stamps by it)."""
        self.sessions += 1
        session_id = f"{self.session_id}_{self.sessions}"
        return session_id, [frame.replace(self.session_id, session_id) for frame in self.greeting]

    def after_append(self, index: int) -> list[str]:
        """The frames that follow the ``index``-th append of the session (from 0).

        Audio times move with the turn (the captured turn was the second): the
        load generator finds the chunk that ended each turn from them.
        """
        frames = self.turn[index % TURN_CHUNKS]
        shift = (index // TURN_CHUNKS - 1) * TURN_CHUNKS * CHUNK_MS
        if not shift:
            return frames
        return [_AUDIO_MS.sub(lambda m: _shifted(m, shift), frame) for frame in frames]


def _shifted(match: re.Match[str], shift: int) -> str:
    return f'"audio_{match.group(1)}_ms":{int(match.group(2)) + shift}'


async def _drain(link: Transport, quiet_s: float) -> list[str]:
    """Every frame until the link stays quiet for ``quiet_s``."""
    frames: list[str] = []
    while True:
        try:
            message = await asyncio.wait_for(link.recv(), quiet_s)
        except TimeoutError:
            return frames
        assert isinstance(message, str)
        frames.append(message)


async def capture() -> Script:
    """One real session in memory: the load generator's update and two turns."""
    server = MemoryServer(server_state(create_app(ServerConfig(port=0), scripted_engines())))
    link = await server.open()
    greeting = await _drain(link, QUIET_S)
    await link.send(SESSION_UPDATE)
    updated = await _drain(link, QUIET_S)
    turns: list[list[list[str]]] = []
    for _ in range(2):
        after: list[list[str]] = []
        for frame in turn_frames():
            await link.send(frame)
            after.append(await _drain(link, QUIET_S))
        turns.append(after)
    await server.close()
    if len(turns[1]) != TURN_CHUNKS or not any(turns[1]):
        raise RuntimeError("the captured turn has no reply: the scripted server changed")
    return Script(greeting, updated, turns[1])


def handler(script: Script) -> Callable[[ServerConnection], Awaitable[None]]:
    async def serve_one(ws: ServerConnection) -> None:
        session_id, greeting = script.greeting_for_new_session()
        stamps = STAMPS[session_id]
        for frame in greeting:
            stamps.append(time.monotonic())
            await ws.send(frame)
        count = 0
        async for _message in ws:  # not parsed: the first is the update, then appends
            replies = script.updated if count == 0 else script.after_append(count - 1)
            count += 1
            for frame in replies:
                stamps.append(time.monotonic())
                await ws.send(frame)

    return serve_one


async def main() -> None:
    script = await capture()
    control = await asyncio.start_server(hand_over_stamps, "127.0.0.1", 0)
    async with control, serve(handler(script), "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1] if server.sockets else 0
        gc.freeze()
        time_collections()
        info = {
            "ws_url": f"ws://127.0.0.1:{port}/v1/realtime",
            "http_url": f"http://127.0.0.1:{port}",
            "api_key": KEY,
            "control_port": control.sockets[0].getsockname()[1],
        }
        print(json.dumps(info), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
