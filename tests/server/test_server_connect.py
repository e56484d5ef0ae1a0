"""Opening sessions: authentication, refusals before the upgrade, greeting, cap, health."""

from __future__ import annotations

import json

import httpx
import pytest
from server_harness import session
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server


async def _refusal(server: RunningServer, query: str = "model=gpt-realtime", **kwargs: object):
    with pytest.raises(InvalidStatus) as caught:
        async with connect(f"{server.ws_url}?{query}", open_timeout=5, **kwargs):
            pass
    response = caught.value.response
    return response.status_code, json.loads(response.body)["error"]


@pytest.mark.conformance(
    "session.created",
    "conversation.created",
    "audio.input.format[audio/pcm]",
    "audio.input.format[audio/pcm].rate=24000",
    status="supported",
    client="raw",
    transport="websocket",
    note="the full effective config, defaults explicit",
)
async def test_api_key_session_greets_with_full_config(server: RunningServer) -> None:
    async with session(server, greet=False) as client:
        created = await client.recv()
        conversation = await client.recv()
    assert created.type == "session.created"
    assert created.event_id.startswith("event_")
    config = created.session
    assert config.type == "realtime" and config.model == "gpt-realtime"
    assert config.model_extra["id"].startswith("sess_")
    assert config.output_modalities == ["audio"]
    assert config.audio.output.voice == "alloy"
    assert config.audio.input.format.type == "audio/pcm" and config.audio.input.format.rate == 24000
    # Turn detection as the hosted API starts a realtime session: server_vad, its defaults.
    detection = config.audio.input.turn_detection
    assert detection.model_dump() == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }
    assert config.tools == [] and config.tool_choice == "auto"
    assert config.model_extra["expires_at"] > 0
    assert conversation.type == "conversation.created"
    assert conversation.conversation.id.startswith("conv_")


@pytest.mark.conformance(
    "model",
    status="supported",
    client="raw",
    transport="websocket",
    note="the model named in the URL",
)
async def test_model_comes_from_the_query(server: RunningServer) -> None:
    async with session(server, query="model=gpt-realtime-mini", greet=False) as client:
        created = await client.recv()
    assert created.session.model == "gpt-realtime-mini"


@pytest.mark.conformance(
    "type=transcription", status="supported", client="raw", transport="websocket"
)
async def test_transcription_intent_opens_a_transcription_session(server: RunningServer) -> None:
    async with session(server, query="intent=transcription", greet=False) as client:
        created = await client.recv()
    assert created.session.type == "transcription"
    assert created.session.audio.input.transcription.model == "whisper-1"


async def test_browser_subprotocols_authenticate(server: RunningServer) -> None:
    protocols = ["realtime", f"openai-insecure-api-key.{server.api_key}"]
    async with session(server, subprotocols=protocols) as client:
        assert client.ws.subprotocol == "realtime"


async def test_missing_credentials_are_refused_with_401(server: RunningServer) -> None:
    status, error = await _refusal(server)
    assert status == 401
    assert error["code"] == "missing_credentials"
    assert "Authorization" in error["message"]


async def test_wrong_api_key_is_refused_with_401(server: RunningServer) -> None:
    status, error = await _refusal(server, additional_headers={"Authorization": "Bearer sk-nope"})
    assert status == 401
    assert error["code"] == "invalid_api_key"


async def test_wrong_browser_key_is_refused(server: RunningServer) -> None:
    protocols = ["realtime", "openai-insecure-api-key.sk-nope"]
    status, error = await _refusal(server, subprotocols=protocols)
    assert status == 401 and error["code"] == "invalid_api_key"


async def test_malformed_authorization_header(server: RunningServer) -> None:
    status, error = await _refusal(server, additional_headers={"Authorization": "Basic abc"})
    assert status == 401 and "Bearer" in error["message"]


async def test_beta_header_is_refused_with_400(server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}", "OpenAI-Beta": "realtime=v1"}
    status, error = await _refusal(server, additional_headers=headers)
    assert status == 400
    assert error["code"] == "beta_protocol_retired"
    assert "GA" in error["message"] and "no header" in error["message"]


async def test_call_id_is_refused_with_404(server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    status, error = await _refusal(server, "call_id=rtc_123", additional_headers=headers)
    assert status == 404
    assert "No such call" in error["message"] and "rtc_123" in error["message"]


async def test_healthz_counts_open_sessions(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        before = (await http.get("/healthz")).json()
        async with session(server):
            during = (await http.get("/healthz")).json()
    assert (before["status"], before["engine"], before["sessions"]) == ("ready", "scripted", 0)
    assert before["engines"]["llm"] == {"label": "ScriptedLLM", "state": "ready"}
    assert during["sessions"] == 1


async def test_session_cap_closes_with_1001_after_an_error() -> None:
    async with running_server(ServerConfig(port=0, session_cap_s=0.2)) as server:
        async with session(server) as client:
            notice = await client.recv()
            with pytest.raises(ConnectionClosed) as closed:
                await client.recv()
    assert notice.type == "error"
    assert notice.error.code == "session_expired"
    assert notice.error.message == "Your session hit the maximum duration of 0.2 seconds."
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    assert "maximum duration" in closed.value.rcvd.reason


async def test_server_shutdown_closes_open_sessions_with_1001() -> None:
    async with running_server(ServerConfig(port=0)) as server:
        async with session(server) as client:
            async with running_server(ServerConfig(port=0)):
                pass  # another server starting and stopping does not disturb this one
            await server.app.state.rtagents.close_all(1001, "server shutting down")
            with pytest.raises(ConnectionClosed) as closed:
                await client.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


def test_close_reason_fits_a_close_frame_whatever_the_client_sent() -> None:
    from rtagents.server.connect import MAX_CLOSE_REASON_BYTES, _close_reason

    reason = _close_reason("No such call: '" + "é" * 200 + "'.")
    assert len(reason.encode()) <= MAX_CLOSE_REASON_BYTES
    assert reason.startswith("No such call: 'é")
