"""The local engine set: real models warmed with progress, readiness on /healthz.

One module-scoped set loads Silero, Whisper, SmolLM2 and Piper once; the
server tests swap in an LLM that talks to the loopback stub, so they can hold
warm-up at a known point (the stub holds requests until a gate opens) or point
it at a dead port.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from llm_stub_server import MODEL, LLMStub, running_stub
from websockets.asyncio.client import connect

from rtagents.engines.base import Engines
from rtagents.engines.local.embedded_llm import EmbeddedLLM
from rtagents.engines.local.factory import local_engines
from rtagents.engines.local.openai_compat import OpenAICompatLLM
from rtagents.engines.local.whisper_stt import WhisperSTT
from rtagents.engines.warmup import WarmUp, close_engines
from rtagents.protocol.codec import decode_server_event, encode_event
from rtagents.protocol.errors import Category, classify_error_payload
from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engines() -> AsyncIterator[Engines]:
    built = local_engines(stt_threads=1, llm_threads=1)
    yield built
    await close_engines(built)


async def failed_turn(server: RunningServer) -> tuple[Any, str]:
    """Open a session, ask for a text reply; the ``error`` and the response's status."""
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with connect(f"{server.ws_url}?model=gpt-realtime", additional_headers=headers) as ws:
        assert decode_server_event(await ws.recv()).type == "session.created"
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hi"}],
        }
        await ws.send(encode_event({"type": "conversation.item.create", "item": item}))
        await ws.send(
            encode_event({"type": "response.create", "response": {"output_modalities": ["text"]}})
        )
        error = None
        while True:
            event: Any = decode_server_event(await asyncio.wait_for(ws.recv(), 10))
            if event.type == "error":
                error = event.error
            if event.type == "response.done":
                return error, event.response.status


def with_llm(engines: Engines, llm: OpenAICompatLLM) -> Engines:
    return dataclasses.replace(engines, llm=llm, labels={**engines.labels, "llm": "stub llm"})


async def test_warm_up_loads_every_part_and_reports_progress(engines: Engines) -> None:
    assert isinstance(engines.llm, EmbeddedLLM) and isinstance(engines.stt, WhisperSTT)
    lines: list[str] = []
    warmup = WarmUp(engines, progress=lines.append)
    assert warmup.overall == "warming"
    assert {s.state for s in warmup.readiness().values()} == {"pending"}
    await warmup.run()
    assert warmup.overall == "ready"
    readiness = warmup.readiness()
    assert list(readiness) == ["vad", "stt", "llm", "tts"]
    assert all(s.state == "ready" and s.seconds is not None for s in readiness.values())
    assert lines[:2] == [
        "loading vad: silero vad (onnxruntime)...",
        f"vad ready: silero vad (onnxruntime) in {readiness['vad'].seconds:.1f} s",
    ]
    assert "loading stt: whisper base (int8, 1 threads)..." in lines
    assert "loading llm: smollm2-135m-instruct (embedded llama.cpp)..." in lines
    assert lines[-1] == "engines ready: 4/4 parts ready"
    assert engines.llm.loaded


async def test_healthz_is_503_while_warming_then_200(engines: Engines) -> None:
    gate = asyncio.Event()
    async with running_stub(LLMStub(gate=gate)) as stub:
        llm = OpenAICompatLLM(url=stub.url, model=MODEL)
        async with running_server(ServerConfig(port=0), with_llm(engines, llm)) as server:
            async with httpx.AsyncClient(base_url=server.http_url) as http:
                warming = await http.get("/healthz")
                gate.set()
                await server_state(server.app).warmup.wait()
                ready = await http.get("/healthz")
        await llm.aclose()
    assert warming.status_code == 503 and warming.json()["status"] == "warming"
    assert warming.json()["engines"]["tts"]["state"] in ("pending", "loading")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert ready.json()["engines"]["llm"] == {
        "label": "stub llm",
        "state": "ready",
        "seconds": ready.json()["engines"]["llm"]["seconds"],
    }


async def test_a_dead_llm_degrades_the_server_but_sessions_still_open(engines: Engines) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
        llm = OpenAICompatLLM(url=dead, model=MODEL)
        async with running_server(ServerConfig(port=0), with_llm(engines, llm)) as server:
            await server_state(server.app).warmup.wait()
            async with httpx.AsyncClient(base_url=server.http_url) as http:
                health = await http.get("/healthz")
            error, status = await failed_turn(server)
        await llm.aclose()
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    parts = health.json()["engines"]
    assert parts["llm"]["state"] == "failed"
    assert "nothing listens at" in parts["llm"]["error"] and "ollama serve" in parts["llm"]["hint"]
    assert {parts[name]["state"] for name in ("vad", "stt", "tts")} == {"ready"}
    assert status == "failed"
    assert classify_error_payload(error.type, error.code) is Category.MODEL
    assert "nothing listens at" in error.message


async def test_whisper_and_the_tts_share_one_queue_sized_to_the_cores_the_llm_leaves() -> None:
    from rtagents.engines.local.cpu_gate import gate_capacity

    default = local_engines(llm_threads=1)
    leaves = gate_capacity(1)
    assert default.labels["cpu"] == f"one queue for {leaves} thread(s), nearest audio first"
    assert local_engines(engine_threads=3).labels["cpu"].startswith("one queue for 3 thread(s)")
    external = local_engines(llm_url="http://127.0.0.1:9/v1")  # its LLM runs elsewhere
    assert external.labels["cpu"].startswith(f"one queue for {gate_capacity(0)} thread(s)")
    assert "cpu" not in local_engines(engine_threads=0).labels  # no queue
