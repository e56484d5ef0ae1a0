"""The wire host on its own: a tiny Backend, the real memory transport, observers, the cap.

The backend here is a test double of whatever answers a session (the model
side); the host, the codec, the rules table and the transport are the real
ones. The last test reads the host package's source: it must import nothing
of the local pipeline, WebRTC or the engines (a relay backend must plug in
without them).
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from openai.types.realtime import ConversationCreatedEvent, InputAudioBufferClearedEvent
from pydantic import BaseModel

import rtagents.server.host as host_package
from rtagents.protocol.codec import decode_server_event, encode_event
from rtagents.protocol.errors import RealtimeError, RemoteProtocolError
from rtagents.protocol.server_facts import Facts
from rtagents.server.config import ServerConfig
from rtagents.server.host.backend import HostPort, ReceivedEvent
from rtagents.server.host.session_host import SessionHost
from rtagents.server.host.wire_events import build
from rtagents.testing.clock import FakeClock
from rtagents.transports.memory import MemoryTransport, memory_pair

TIMEOUT_S = 10.0


class EchoBackend:
    """Greets with conversation.created; answers input_audio_buffer.clear with .cleared."""

    def __init__(self, port: HostPort) -> None:
        self.port = port
        self.handled: list[str] = []
        self.closed = False

    async def start(self) -> None:
        conversation = {"id": "conv_1", "object": "realtime.conversation"}
        await self.port.emit(build(ConversationCreatedEvent, conversation=conversation))

    async def handle(self, event: Any) -> None:
        self.handled.append(event.type)
        if event.type == "response.create":
            raise RemoteProtocolError("no model here", code="invalid_value", param="response")
        if event.type == "conversation.item.create":
            raise ValueError("a bug in the backend")
        await self.port.emit(build(InputAudioBufferClearedEvent))

    def facts(self) -> Facts:
        return Facts(items=self.port.conversation)

    async def close(self) -> None:
        self.closed = True


class Recorder:
    """An observer: what the host sent and received, in order."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.received: list[ReceivedEvent] = []

    def on_sent(self, event: BaseModel, error: RealtimeError | None) -> None:
        self.sent.append(str(getattr(event, "type", None)))

    def on_received(self, inbound: ReceivedEvent) -> None:
        self.received.append(inbound)


class Served:
    def __init__(self, host: SessionHost, client: MemoryTransport, backend: EchoBackend) -> None:
        self.host, self.client, self.backend = host, client, backend

    async def recv(self) -> Any:
        return decode_server_event(await asyncio.wait_for(self.client.recv(), TIMEOUT_S))

    async def send(self, event: dict[str, Any]) -> Any:
        await self.client.send(encode_event(event))
        return await self.recv()


@asynccontextmanager
async def served(limits: ServerConfig | None = None) -> AsyncIterator[Served]:
    ours, theirs = memory_pair()
    backends: list[EchoBackend] = []

    def factory(port: HostPort) -> EchoBackend:
        backends.append(EchoBackend(port))
        return backends[-1]

    host = SessionHost(ours, limits or ServerConfig(port=0), factory)
    task = asyncio.create_task(host.run())
    try:
        yield Served(host, theirs, backends[0])
    finally:
        await theirs.close()
        await asyncio.wait_for(task, TIMEOUT_S)


async def test_the_backend_greets_and_answers_what_the_host_hands_it() -> None:
    async with served() as s:
        assert (await s.recv()).type == "conversation.created"
        reply = await s.send({"type": "input_audio_buffer.clear", "event_id": "e1"})
        assert reply.type == "input_audio_buffer.cleared"
        assert s.backend.handled == ["input_audio_buffer.clear"]


async def test_observers_see_every_event_sent_and_received_in_order() -> None:
    async with served() as s:
        recorder = Recorder()
        s.host.add_observer(recorder)  # before the host's task has started: it sees the greeting
        await s.recv()
        await s.send({"type": "input_audio_buffer.clear", "event_id": "e1"})
        await s.send({"type": "conversation.item.delete", "item_id": "nope", "event_id": "e2"})
        await s.client.send(b"\x00binary")
        await s.recv()
        s.host.remove_observer(recorder)
        await s.send({"type": "input_audio_buffer.clear"})
    assert recorder.sent == ["conversation.created", "input_audio_buffer.cleared", "error", "error"]
    seen = [(i.type, i.event_id, i.outcome) for i in recorder.received]
    assert seen == [
        ("input_audio_buffer.clear", "e1", "ok"),
        ("conversation.item.delete", "e2", "error"),
        (None, None, "invalid"),
    ]
    assert recorder.received[0].event is not None and recorder.received[1].error is not None


class SendsOnly(Recorder):
    """An observer that declares it does not watch client frames."""

    wants_received = False


async def test_an_observer_that_wants_no_received_events_gets_none_and_still_sees_sends() -> None:
    async with served() as s:
        both, sends_only = Recorder(), SendsOnly()
        s.host.add_observer(both)
        s.host.add_observer(sends_only)
        await s.recv()
        await s.send({"type": "input_audio_buffer.clear", "event_id": "e1"})
        s.host.remove_observer(both)  # the rest keep their choice after a removal
        await s.send({"type": "input_audio_buffer.clear", "event_id": "e2"})
    assert [i.event_id for i in both.received] == ["e1"]
    assert sends_only.received == []
    assert sends_only.sent == ["conversation.created", *["input_audio_buffer.cleared"] * 2]


async def test_server_wide_observers_attach_to_every_host_from_the_config() -> None:
    recorders: dict[str, Recorder] = {}

    def attach(port: HostPort) -> Recorder:
        return recorders.setdefault(port.session_id, Recorder())

    limits = ServerConfig(port=0, observers=[attach])
    async with served(limits) as first, served(limits) as second:
        await first.recv()
        await second.recv()
        await first.send({"type": "input_audio_buffer.clear", "event_id": "e1"})
    assert set(recorders) == {first.host.id, second.host.id}
    assert recorders[first.host.id].sent == ["conversation.created", "input_audio_buffer.cleared"]
    assert [i.event_id for i in recorders[first.host.id].received] == ["e1"]
    assert recorders[second.host.id].sent == ["conversation.created"]


async def test_the_rules_refuse_before_the_backend_sees_the_event() -> None:
    async with served() as s:
        await s.recv()
        reply = await s.send({"type": "conversation.item.delete", "item_id": "x", "event_id": "e"})
        assert (reply.error.code, reply.error.param, reply.error.event_id) == (
            "item_not_found",
            "item_id",
            "e",
        )
        assert s.backend.handled == []


async def test_a_backend_refusal_or_failure_is_an_error_and_the_session_goes_on() -> None:
    async with served() as s:
        await s.recv()
        refused = await s.send({"type": "response.create", "event_id": "r1"})
        assert (refused.error.code, refused.error.event_id) == ("invalid_value", "r1")
        item = {"type": "message", "role": "user", "content": []}
        failed = await s.send({"type": "conversation.item.create", "item": item})
        assert (failed.error.type, failed.error.code) == ("server_error", "internal_error")
        assert (await s.send({"type": "input_audio_buffer.clear"})).type.endswith("cleared")


async def test_unknown_and_closing_are_answered_by_the_host() -> None:
    async with served() as s:
        await s.recv()
        unknown = await s.send({"type": "no.such.event", "event_id": "u"})
        assert (unknown.error.code, unknown.error.param) == ("invalid_value", "type")
        s.host.begin_closing()
        closing = await s.send({"type": "input_audio_buffer.clear", "event_id": "late"})
        assert (closing.error.code, closing.error.event_id) == ("session_closed", "late")
        assert s.backend.handled == []


async def test_the_cap_closes_the_session_on_the_injected_clock() -> None:
    clock = FakeClock()
    limits = ServerConfig(port=0, session_cap_s=60, clock=clock, sleep=clock.sleep)
    async with served(limits) as s:
        assert s.host.expires_at == int(clock() + 60)
        await s.recv()
        await clock.until_sleeping(1)
        clock.advance(60)
        notice = await s.recv()
        assert (notice.error.code, notice.error.message) == (
            "session_expired",
            "Your session hit the maximum duration of 1 minute.",
        )
        await asyncio.wait_for(s.host.wait_closed(), TIMEOUT_S)
        assert s.client.closed and s.backend.closed


def test_the_host_package_imports_no_backend_transport_or_engine() -> None:
    """Type-only imports count: a relay must load the host without any of these."""
    forbidden = ("rtagents.server.local", "rtagents.server.webrtc", "rtagents.engines")
    package_dir = Path(host_package.__file__).parent
    found = []
    for path in sorted(package_dir.glob("*.py")):
        for module in _imports(path, "rtagents.server.host"):
            if module.startswith(forbidden):
                found.append(f"{path.name}: {module}")
    assert found == []
    assert len(list(package_dir.glob("*.py"))) >= 5  # the check read the real package


def _imports(path: Path, package: str) -> list[str]:
    """Every module ``path`` imports, relative imports resolved against ``package``."""
    modules = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            modules.append(target)
            modules += [f"{target}.{alias.name}" for alias in node.names]
    return modules


def test_the_import_reader_resolves_relative_and_type_only_imports(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from .. import ids\n"
        "if TYPE_CHECKING:\n"
        "    from ..local.pipeline import LocalBackend\n"
        "    from ...engines.base import Engines\n"
    )
    modules = _imports(source, "rtagents.server.host")
    assert "rtagents.server.local.pipeline" in modules
    assert "rtagents.engines.base" in modules
    assert "rtagents.server.ids" in modules


async def test_a_frame_the_codec_fails_on_costs_that_frame_not_the_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import rtagents.server.host.session_host as session_host

    real_read = session_host.read_frame

    def read_frame(message: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if message == "crash me":  # stands in for a codec bug on some odd input
            raise ValueError("a codec bug")
        return real_read(message, *args, **kwargs)

    monkeypatch.setattr(session_host, "read_frame", read_frame)
    async with served() as s:
        await s.recv()
        await s.client.send("crash me")
        reply = await s.recv()
        assert (reply.type, reply.error.type, reply.error.code) == (
            "error",
            "server_error",
            "internal_error",
        )
        clear = await s.send({"type": "input_audio_buffer.clear", "event_id": "e1"})
        assert clear.type == "input_audio_buffer.cleared"  # the session went on
