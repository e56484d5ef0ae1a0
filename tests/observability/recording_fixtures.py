"""Real recordings with a failure of each category, for the recording, replay and trace tests.

:func:`record_failures` runs a real scripted server on loopback (recording
every session with ``serve --record``'s observer) and a real client session
recorded with ``connect(..., record=PATH)``. The session has, in order:

1. a text turn ("hello") answered normally;
2. a protocol failure: ``input_audio_buffer.commit`` with nothing to commit
   (refused by the server's rules, ``input_audio_buffer_commit_empty``);
3. a model failure: "please break" makes the scripted model fail
   (``server_error`` / ``engine_failure``, the response ends ``failed``);
4. a tool failure: "where is my order" makes the model call ``lookup_order``,
   which never returns; the SDK's tool runner times it out and sends
   ``{"error": "'lookup_order' timed out after 0.2 s"}`` as the call's output,
   then the model answers that output;
5. 100 ms of input audio appended then cleared (an audio record, elided);

then a clean close. A second client recording holds a connection failure:
a handshake refused with 401 (a wrong key). From another test directory::

    sys.path.insert(0, str(Path(__file__).parents[1] / "observability"))
    from recording_fixtures import record_failures
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rtagents import connect
from rtagents.engines.scripted import CallTool, Fail, Rule, scripted_engines
from rtagents.protocol.errors import ConnectionFailure
from rtagents.server.config import ServerConfig
from rtagents.server.host.recording_observer import session_recorders
from rtagents.server.serving import RunningServer, running_server

TOOL_TIMEOUT_S = 0.2
LOOKUP_ORDER = {
    "type": "function",
    "name": "lookup_order",
    "description": "Find an order",
    "parameters": {"type": "object", "properties": {"order": {"type": "string"}}},
}
SESSION = {"type": "realtime", "output_modalities": ["text"], "tools": [LOOKUP_ORDER]}
RULES = [
    Rule(when="break", then=Fail("the scripted model fell over", hint="it was told to")),
    Rule(when="order", then=CallTool("lookup_order", {"order": "42"})),
]


@dataclass(frozen=True)
class RecordedSessions:
    client: Path  # the client's recording of the session with the four kinds of failure
    server: Path  # the server's recording of the same session
    refused: Path  # a client recording whose handshake was refused (401)
    session_id: str


def recording_server(directory: Path, rules: list[Rule] | None = None) -> Any:
    """A running scripted server (async context manager) recording into ``directory``."""
    config = ServerConfig(port=0, observers=(session_recorders(directory),))
    return running_server(config, scripted_engines(RULES if rules is None else rules, vad=False))


async def record_failures(directory: Path) -> RecordedSessions:
    """Record the session described above; the files land in ``directory``."""
    client_path = directory / "client.jsonl"
    refused_path = directory / "refused.jsonl"
    async with recording_server(directory / "server") as server:
        session_id = await _failing_session(server, client_path)
        try:
            await connect(server.ws_url, credentials="sk-wrong", record=refused_path)
        except ConnectionFailure:
            pass
        else:  # pragma: no cover - the server must refuse a wrong key
            raise AssertionError("a wrong API key was accepted")
    return RecordedSessions(
        client=client_path,
        server=directory / "server" / f"{session_id}.jsonl",
        refused=refused_path,
        session_id=session_id,
    )


async def _failing_session(server: RunningServer, path: Path) -> str:
    async with connect(
        server.ws_url, credentials=server.api_key, session=SESSION, record=path
    ) as session:

        @session.tools.register(name="lookup_order", timeout=TOOL_TIMEOUT_S)
        async def lookup_order(order: str) -> str:
            await asyncio.Event().wait()  # a backend that never answers
            return order

        await _turn(session, "hello")
        refused = asyncio.create_task(session.wait_for("error", timeout=30))
        await asyncio.sleep(0)
        await session.commit_audio()  # nothing to commit: the rules refuse it
        await refused
        await _turn(session, "please break")
        answered = _responses(session, 2)  # the call, then the answer to its error output
        await session.send_text("where is my order")
        await session.create_response()
        await answered
        cleared = asyncio.create_task(session.wait_for("input_audio_buffer.cleared", timeout=30))
        await asyncio.sleep(0)
        await session.append_audio(bytes(4800))  # 100 ms of 24 kHz silence
        await session.clear_audio()
        await cleared
        assert session.session_id is not None
        return session.session_id


async def _turn(session: Any, text: str) -> None:
    done = _responses(session, 1)
    await session.send_text(text)
    await session.create_response()
    await done


def _responses(session: Any, count: int) -> asyncio.Future[None]:
    """Resolved once ``count`` more ``response.done`` have arrived (counted by a handler)."""
    finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen = 0

    async def count_done(event: Any) -> None:
        nonlocal seen
        seen += 1
        if seen == count and not finished.done():
            finished.set_result(None)

    session.on("response.done", count_done)
    return asyncio.ensure_future(asyncio.wait_for(finished, 30))
