"""``rtagents doctor connect``: each step against real servers on loopback, and each failure.

A working server (the scripted engine) passes every step over a WebSocket and
over WebRTC; then one failure at a time: a closed port (TCP), a wrong or
missing key (HTTP auth), a plain HTTP server (the upgrade, the SDP exchange),
an untrusted self-signed certificate (TLS), a server that closes with the beta
code (session.created), a model that fails (text turn) and a server that never
answers (a step's timeout). Each stops at its step with the category and fix.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve

from rtagents.cli.doctor_connect import check_connection
from rtagents.cli.doctor_steps import StepResult
from rtagents.cli.main import main
from rtagents.engines.scripted import scripted_engines
from rtagents.engines.scripted_llm import Fail, Rule
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

WEBSOCKET_STEPS = ["DNS", "TCP", "HTTP auth", "WebSocket upgrade", "session.created", "text turn"]
WEBRTC_STEPS = [
    "DNS",
    "TCP",
    "ICE gathering",
    "HTTP auth",
    "SDP exchange",
    "ICE connectivity",
    "DTLS",
    "data channel",
    "session.created",
    "text turn",
]


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0, webrtc_loopback=True)) as running:
        yield running


def _names(results: list[StepResult]) -> list[str]:
    return [r.name for r in results]


def _failed(results: list[StepResult]) -> StepResult:
    *passed, last = results
    assert all(r.ok for r in passed) and not last.ok, results
    return last


async def test_a_working_server_passes_every_websocket_step(server: RunningServer) -> None:
    seen: list[StepResult] = []
    results = await check_connection(
        f"{server.ws_url}?model=gpt-realtime", credential=server.api_key, report=seen.append
    )
    assert _names(results) == WEBSOCKET_STEPS and seen == results
    assert all(r.ok and r.fix is None for r in results), results
    assert "model gpt-realtime" in results[4].detail
    assert "ready" in results[5].detail


async def test_a_working_server_passes_every_webrtc_step(server: RunningServer) -> None:
    results = await check_connection(
        server.http_url, credential=server.api_key, webrtc=True, loopback=True
    )
    assert _names(results) == WEBRTC_STEPS
    assert all(r.ok for r in results), results
    by_name = {r.name: r for r in results}
    assert "local candidate(s)" in by_name["ICE gathering"].detail
    assert by_name["ICE connectivity"].detail.startswith("pair chosen: local host")
    assert "/v1/realtime/calls/" in by_name["SDP exchange"].detail
    assert "ready" in by_name["text turn"].detail


async def test_a_name_that_does_not_resolve_fails_at_dns() -> None:
    """``.invalid`` never resolves (RFC 6761); a resolver that cannot answer times out instead."""
    results = await check_connection("wss://doctor-test.invalid/v1/realtime", timeout_s=3.0)
    failed = _failed(results)
    assert (_names(results), failed.category) == (["DNS"], "connection")
    assert failed.fix is not None and ("host name" in failed.fix or "resolver" in failed.fix)


async def test_a_url_that_is_not_ws_or_http_fails_before_any_step() -> None:
    [failed] = await check_connection("ftp://127.0.0.1/v1/realtime")
    assert (failed.name, failed.ok, failed.category) == ("URL", False, "connection")


async def test_a_wrong_path_is_named_as_the_likely_cause(server: RunningServer) -> None:
    failed = _failed(await check_connection(f"{server.http_url}/realtime", credential="k"))
    assert failed.name == "HTTP auth" and "403" in failed.detail
    assert failed.fix is not None and "check the URL's path first" in failed.fix


async def test_a_closed_port_fails_at_tcp() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    results = await check_connection(f"ws://127.0.0.1:{port}/v1/realtime")
    failed = _failed(results)
    assert (failed.name, failed.category) == ("TCP", "connection")
    assert "refused" in failed.detail
    assert failed.fix is not None and "nothing listens there" in failed.fix


@pytest.mark.parametrize("webrtc", [False, True])
async def test_a_wrong_key_fails_at_http_auth(server: RunningServer, webrtc: bool) -> None:
    results = await check_connection(
        server.http_url, credential="sk-wrong", webrtc=webrtc, loopback=True
    )
    failed = _failed(results)
    assert (failed.name, failed.category) == ("HTTP auth", "connection")
    assert "401" in failed.detail
    assert failed.fix is not None and "refused this credential" in failed.fix


async def test_no_key_says_to_pass_one(server: RunningServer) -> None:
    failed = _failed(await check_connection(server.ws_url))
    assert failed.name == "HTTP auth"
    assert failed.fix is not None and "pass --api-key" in failed.fix


async def _plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A web server that is not a Realtime server: 200 and a page for any request."""
    try:
        await reader.readuntil(b"\r\n\r\n")
        body = b"<html>hello</html>"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def plain_http() -> AsyncIterator[int]:
    listener = await asyncio.start_server(_plain_http, "127.0.0.1", 0)
    async with listener:
        yield listener.sockets[0].getsockname()[1]


async def test_a_plain_http_server_fails_the_upgrade(plain_http: int) -> None:
    results = await check_connection(f"ws://127.0.0.1:{plain_http}/v1/realtime", credential="k")
    failed = _failed(results)
    assert results[2].detail == "not refused (the server answered HTTP 200; see the upgrade)"
    assert (failed.name, failed.category) == ("WebSocket upgrade", "connection")
    assert "HTTP 200 instead of 101" in failed.detail
    assert failed.fix is not None and "not a Realtime WebSocket endpoint" in failed.fix


async def test_a_plain_http_server_fails_the_sdp_exchange(plain_http: int) -> None:
    results = await check_connection(
        f"http://127.0.0.1:{plain_http}", credential="k", webrtc=True, loopback=True
    )
    failed = _failed(results)
    assert failed.name == "SDP exchange"
    assert failed.fix is not None and "not SDP" in failed.fix


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509", reason="cryptography makes the test cert")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
async def tls_http(tmp_path: Path) -> AsyncIterator[tuple[int, Path]]:
    """The plain web server behind TLS with a self-signed certificate for localhost."""
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listener = await asyncio.start_server(_plain_http, "127.0.0.1", 0, ssl=context)
    async with listener:
        yield listener.sockets[0].getsockname()[1], cert


async def test_an_untrusted_certificate_fails_at_tls(tls_http: tuple[int, Path]) -> None:
    port, _ = tls_http
    failed = _failed(await check_connection(f"wss://localhost:{port}/v1/realtime"))
    assert (failed.name, failed.category) == ("TLS", "connection")
    assert "not trusted" in failed.detail and "self-signed" in failed.detail
    assert failed.fix is not None and "SSL_CERT_FILE" in failed.fix


async def test_a_trusted_certificate_passes_tls_then_the_upgrade_tells(
    tls_http: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert = tls_http
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the fix the failure above suggests
    results = await check_connection(f"wss://localhost:{port}/v1/realtime", credential="k")
    assert _names(results)[:4] == ["DNS", "TCP", "TLS", "HTTP auth"]
    assert results[2].ok and "trusted certificate for localhost" in results[2].detail
    assert _failed(results).name == "WebSocket upgrade"


async def test_a_server_closing_with_the_beta_code_fails_at_session_created() -> None:
    async def refuse(connection: ServerConnection) -> None:
        await connection.close(4000, "beta_api_shape_disabled")

    async with serve(refuse, "127.0.0.1", 0) as beta_only:
        port = next(iter(beta_only.sockets)).getsockname()[1]
        failed = _failed(await check_connection(f"ws://127.0.0.1:{port}", credential="k"))
    assert (failed.name, failed.category) == ("session.created", "protocol")
    assert "4000" in failed.detail
    assert failed.fix is not None and "doctor scan" in failed.fix


async def test_a_failing_model_fails_the_text_turn_as_a_model_failure() -> None:
    engines = scripted_engines([Rule("ready", Fail("the model is out of capacity"))])
    async with running_server(ServerConfig(port=0), engines) as failing:
        results = await check_connection(failing.ws_url, credential=failing.api_key)
    failed = _failed(results)
    assert (failed.name, failed.category) == ("text turn", "model")
    assert "out of capacity" in failed.detail


async def test_a_server_that_never_answers_times_out_at_its_step() -> None:
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # holds the connection open, says nothing

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with listener:
        port = listener.sockets[0].getsockname()[1]
        results = await check_connection(f"ws://127.0.0.1:{port}", timeout_s=0.5)
        for writer in held:
            writer.close()
            await writer.wait_closed()
    failed = _failed(results)
    assert failed.name == "HTTP auth"
    assert failed.detail == "no progress within 0.5 s"
    assert failed.fix is not None and "never answered the HTTP request" in failed.fix


@pytest.fixture
def live_server() -> Iterator[RunningServer]:
    """A server on its own loop in a thread, so the CLI can run its own asyncio.run."""
    ready: list[tuple[RunningServer, asyncio.AbstractEventLoop, asyncio.Event]] = []
    started = threading.Event()

    async def run() -> None:
        stop = asyncio.Event()
        async with running_server(ServerConfig(port=0, api_key="sk-test")) as running:
            ready.append((running, asyncio.get_running_loop(), stop))
            started.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(run(),))
    thread.start()
    try:
        assert started.wait(30), "server thread never started"
        yield ready[0][0]
    finally:
        if ready:
            _, loop, stop = ready[0]
            loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def test_cli_prints_each_step_and_exits_by_the_outcome(
    live_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "connect", live_server.ws_url, "--api-key", "sk-test"]) == 0
    out = capsys.readouterr().out
    for name in WEBSOCKET_STEPS:
        assert f"  pass  {name}" in out
    assert out.rstrip().endswith("all 6 steps passed.")
    assert main(["doctor", "connect", "--json", live_server.ws_url, "--api-key", "bad"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    last = report["steps"][-1]
    assert (last["step"], last["ok"], last["category"]) == ("HTTP auth", False, "connection")
    assert "refused this credential" in last["fix"]
