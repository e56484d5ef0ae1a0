"""The server side of ``bench/load.py``: one rtagents server in its own process.

It runs the real server (uvicorn, WebSocket, scripted engine with its
``EnergyVAD``) and adds one thing for the benchmark: the monotonic time at
which each frame was *emitted* (queued by the session host, before any
outbox or socket delay), per session, served at ``GET /bench/stamps`` (which
hands them over and forgets them). The load generator, in another process on
the same machine, subtracts that from the time it read the frame:
``CLOCK_MONOTONIC`` is one clock for every process of a Linux machine.

It prints one JSON line (urls, key, pid) once listening, and stops when its
stdin closes. ``--no-stamps`` leaves the server untouched (the soak run, where
stamps would grow memory on their own).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from collections import defaultdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rtagents.engines.scripted import scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.host.backend import HostPort
from rtagents.server.serving import running_server

STAMPS: defaultdict[str, list[float]] = defaultdict(list)


class Stamper:
    """An observer on every host: times each frame as the host queues it (the earliest a
    send can start)."""

    def __init__(self, host: HostPort) -> None:
        self._session_id = host.session_id

    def on_sent(self, event: Any, error: Any) -> None:
        # Looked up each time: /bench/stamps empties STAMPS when it hands them out.
        STAMPS[self._session_id].append(time.monotonic())

    wants_received = False  # it stamps what is sent only

    def on_received(self, inbound: Any) -> None:
        pass


async def stamps(request: Request) -> JSONResponse:
    body = dict(STAMPS)
    STAMPS.clear()
    return JSONResponse(body)


async def stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


async def serve(with_stamps: bool) -> None:
    config = ServerConfig(
        port=0, session_cap_s=24 * 3600, observers=[Stamper] if with_stamps else []
    )
    async with running_server(config, scripted_engines()) as server:
        server.app.router.routes.append(Route("/bench/stamps", stamps, methods=["GET"]))
        gc.freeze()  # as `rtagents serve` does once started
        info = {"ws_url": server.ws_url, "http_url": server.http_url, "api_key": server.api_key}
        print(json.dumps(info), flush=True)
        await stdin_closed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-stamps", action="store_true")
    args = parser.parse_args()
    asyncio.run(serve(not args.no_stamps))


if __name__ == "__main__":
    main()
