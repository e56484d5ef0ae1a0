"""Client secrets across ``rtagents serve --redis`` processes: mint on node A, connect on node B.

Two real server processes, each with its own random signing key on the
command line's defaults, share one real Redis: the key they sign with is
agreed there, so a secret minted by A opens a session on B with the config
it was minted with, and ``sessions_per_secret`` (1) is counted across both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis_kit import redis_server  # noqa: F401  (fixture)
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from rtagents.testing.redis_server import RedisServer
from rtagents.testing.server_process import ServerProcess


@pytest.fixture
def nodes(
    tmp_path: Path,
    redis_server: RedisServer,  # noqa: F811
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    args = ["--redis", redis_server.url]
    with (
        ServerProcess(tmp_path / "a.log", api_key="sk-nodes", args=args) as node_a,
        ServerProcess(tmp_path / "b.log", api_key="sk-nodes", args=args) as node_b,
    ):
        yield node_a, node_b
        for node in (node_a, node_b):
            assert node.crash_lines() == [], node.crash_report()


async def test_a_secret_minted_on_one_process_opens_one_session_on_any(
    nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    node_a, node_b = nodes
    async with httpx.AsyncClient() as http:
        minted = await http.post(
            f"{node_a.http_url}/v1/realtime/client_secrets",
            json={"session": {"type": "realtime", "instructions": "Minted on A."}},
            headers={"Authorization": f"Bearer {node_a.api_key}"},
        )
    assert minted.status_code == 200, minted.text
    secret = {"Authorization": f"Bearer {minted.json()['value']}"}
    async with connect(node_b.ws_url + "?model=gpt-realtime", additional_headers=secret) as ws:
        created = json.loads(await ws.recv())
        assert created["type"] == "session.created"
        assert created["session"]["instructions"] == "Minted on A."
    with pytest.raises(InvalidStatus) as second:  # the one session it may open was on B
        async with connect(node_a.ws_url + "?model=gpt-realtime", additional_headers=secret):
            pass
    assert second.value.response.status_code == 403
    assert json.loads(second.value.response.body or b"")["error"]["code"] == "secret_already_used"
