"""``rtagents serve`` as a process: its log quotes client text at the configured bound."""

from __future__ import annotations

import json
from pathlib import Path

from websockets.asyncio.client import connect

from rtagents.testing.server_process import ServerProcess


async def test_the_log_and_the_reply_cut_client_text_at_limit_quoted_chars(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path / "serve.log", args=["--limit-quoted-chars", "8"])
    server.start()
    try:
        headers = {"Authorization": f"Bearer {server.api_key}"}
        async with connect(f"{server.ws_url}?model=gpt-realtime", additional_headers=headers) as ws:
            for _ in range(2):  # session.created, conversation.created
                await ws.recv()
            await ws.send(json.dumps({"type": "z" * 100 + "\n05:00:00.000 CRITICAL forged"}))
            error = json.loads(await ws.recv())["error"]
    finally:
        server.stop()
    assert error["message"].startswith("Unknown event type 'zzzzzzzz…' (129 chars).")
    logged = server.log_path.read_text()
    assert "'zzzzzzzz…' (129 chars)" in logged
    assert "\n05:00:00.000" not in logged and "z" * 9 not in logged
