"""The browser console's page and secret endpoint (src/rtagents/server/console.py).

Everything runs against a real server on a real socket: the page must never
carry the API key, and the secret endpoint must mint only for the console
page of a loopback server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from server_harness import session

from rtagents.server.config import ServerConfig
from rtagents.server.console import WEB_DIR, console_enabled, is_loopback
from rtagents.server.serving import RunningServer, running_server

SECRET_PATH = "/console/client_secret"


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        yield client


def refusal(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.3.4.5", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("console.localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.2", False),
        ("example.com", False),
        ("localhost.example.com", False),
        ("", False),
    ],
)
def test_loopback_names(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


@pytest.mark.parametrize(
    ("host", "console", "expected"),
    [
        ("127.0.0.1", None, True),
        ("0.0.0.0", None, False),
        ("0.0.0.0", True, True),
        ("127.0.0.1", False, False),
    ],
)
def test_enabled_by_default_only_on_loopback(
    host: str, console: bool | None, expected: bool
) -> None:
    assert console_enabled(ServerConfig(host=host, console=console)) is expected


async def test_page_and_assets_are_served(http: httpx.AsyncClient) -> None:
    page = await http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # The page may load only its own files and be framed by nobody.
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    for name in ("app.js", "call.js", "errors.js", "log.js", "stats.js"):
        asset = await http.get(f"/console/{name}")
        assert asset.status_code == 200, name
        # ES modules load only with a JavaScript MIME type.
        assert asset.headers["content-type"].startswith("text/javascript"), name
    assert (await http.get("/console/style.css")).headers["content-type"].startswith("text/css")
    assert (await http.get("/console/missing.js")).status_code == 404


async def test_page_references_only_its_own_files() -> None:
    for path in WEB_DIR.iterdir():
        text = path.read_text()
        assert "http://" not in text and "https://" not in text, path.name


async def test_no_response_carries_the_api_key(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    bodies = [(await http.get("/")).text]
    bodies += [(await http.get(f"/console/{path.name}")).text for path in WEB_DIR.iterdir()]
    minted = await http.post(SECRET_PATH, json={})
    bodies.append(minted.text)
    assert minted.status_code == 200
    assert all(server.api_key not in body for body in bodies)
    assert minted.json()["value"].startswith("ek_")
    assert minted.headers["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in minted.headers


async def test_minted_secret_opens_a_session_with_its_config(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    config = {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcmu"}}}}
    minted = await http.post(
        SECRET_PATH, json={"session": config}, headers={"Origin": server.http_url}
    )
    body = minted.json()
    assert body["session"]["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    async with session(server, key=body["value"], greet=False) as client:
        created = await client.recv()
        assert created.type == "session.created"
        assert created.session.audio.input.format.type == "audio/pcmu"


async def test_bad_session_config_names_the_field(http: httpx.AsyncClient) -> None:
    response = await http.post(SECRET_PATH, json={"session": {"type": "realtime", "voice": "x"}})
    error = refusal(response, 400)
    assert error["param"] == "session.voice"


async def test_cross_origin_page_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.post(SECRET_PATH, json={}, headers={"Origin": "http://evil.example"})
    error = refusal(response, 403)
    assert error["code"] == "console_cross_origin"
    assert "http://evil.example" in error["message"]


async def test_dns_rebinding_host_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.post(SECRET_PATH, json={}, headers={"Host": "evil.example:8000"})
    error = refusal(response, 403)
    assert error["code"] == "console_host_refused"
    assert "evil.example" in error["message"]


async def test_switched_off_console_refuses_with_the_way_out() -> None:
    async with (
        running_server(ServerConfig(port=0, console=False)) as server,
        httpx.AsyncClient(base_url=server.http_url) as http,
    ):
        error = refusal(await http.post(SECRET_PATH, json={}), 403)
        assert error["code"] == "console_disabled"
        assert "rtagents mint" in error["message"] and "--console" in error["message"]
        # The page still loads: a secret minted elsewhere can be pasted into it.
        assert (await http.get("/")).status_code == 200


async def test_non_loopback_bind_refuses_by_default() -> None:
    async with running_server(ServerConfig(host="0.0.0.0", port=0)) as server:
        port = server.http_url.rsplit(":", 1)[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            error = refusal(await http.post(SECRET_PATH, json={}), 403)
    assert error["code"] == "console_disabled"
    assert "0.0.0.0" in error["message"]
