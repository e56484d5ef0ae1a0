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
stamps would grow memory on their own). ``--record DIR`` records every session
as ``rtagents serve --record DIR`` does (``bench/load.py --record``).

For ``bench/load.py --workers N`` several of these serve one port as
``rtagents serve --workers N``'s workers do (``--port P --reuse-port``,
``SO_REUSEPORT``; ``--redis URL`` shares state as they do). A request to the
shared port reaches any one of them, so each also hands its stamps over on a
control port of its own (``control_port`` in its JSON line): connect, read
the JSON until the connection closes.

With the stamps it hands over the pause of every garbage collection since the
last hand-over (key ``gc/<pid>``), so each step can show its longest pause.
The collector runs on ``rtagents serve``'s schedule (``server/collector.py``);
``RTAGENTS_GC_SWEEP=0`` in the environment gives Python's own, as
``serve --gc-sweep 0`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from collections import defaultdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rtagents.cli.settings import ENV_PREFIX
from rtagents.engines.scripted import scripted_engines
from rtagents.observability.gc_pauses import PauseTally
from rtagents.server.app import server_state
from rtagents.server.collector import SWEEP_EVERY_S, start_schedule
from rtagents.server.config import ServerConfig
from rtagents.server.host.backend import HostPort
from rtagents.server.host.recording_observer import session_recorders
from rtagents.server.serving import running_server

STAMPS: defaultdict[str, list[float]] = defaultdict(list)
# Every garbage collection's pause in ms, handed over with the stamps under
# GC_KEY: a step that fails with the CPU half idle has usually met a full
# collection (it stops every session of the process at once).
PAUSES: list[float] = []
GC_KEY = f"gc/{os.getpid()}"  # a session id never starts with "gc/"
GC_SWEEP_ENV = f"{ENV_PREFIX}GC_SWEEP"  # serve --gc-sweep's variable


class StepPauses(PauseTally):
    """The server's own pause timing (``/metrics``), each pause also kept for the step."""

    def observe(self, generation: int, pause: float) -> None:
        super().observe(generation, pause)
        PAUSES.append(pause * 1000)


def time_collections() -> None:
    gc.callbacks.append(StepPauses())


def handed_over() -> dict[str, list[float]]:
    """The stamps and pauses so far (then forgotten: each step gets its own)."""
    body = {**STAMPS, GC_KEY: list(PAUSES)}
    STAMPS.clear()
    PAUSES.clear()
    return body


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
    return JSONResponse(handed_over())


async def hand_over_stamps(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The control port: this process's stamps as JSON, then close (and forget them)."""
    body = json.dumps(handed_over()).encode()
    writer.write(body)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


async def serve(args: argparse.Namespace) -> None:
    shared: dict[str, Any] = {"redis_url": args.redis} if args.redis else {}
    observers: list[Any] = [] if args.no_stamps else [Stamper]
    if args.record:  # what `rtagents serve --record DIR` adds (bench/load.py --record)
        observers.append(session_recorders(args.record))
    config = ServerConfig(
        port=args.port,
        api_key=args.api_key,
        session_cap_s=24 * 3600,
        observers=observers,
        reuse_port=args.reuse_port,
        **shared,
    )
    control = await asyncio.start_server(hand_over_stamps, "127.0.0.1", 0)
    async with control, running_server(config, scripted_engines()) as server:
        server.app.router.routes.append(Route("/bench/stamps", stamps, methods=["GET"]))
        gc.freeze()  # as `rtagents serve` does once started, with its collector schedule
        time_collections()
        sweep_every_s = float(os.environ.get(GC_SWEEP_ENV, SWEEP_EVERY_S))
        sessions = server_state(server.app).sessions
        collector = start_schedule(sweep_every_s, lambda: len(sessions))
        info = {
            "ws_url": server.ws_url,
            "http_url": server.http_url,
            "api_key": server.api_key,
            "control_port": control.sockets[0].getsockname()[1],
        }
        print(json.dumps(info), flush=True)
        await stdin_closed()
        if collector is not None:
            collector.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-stamps", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reuse-port", action="store_true", help="share --port (SO_REUSEPORT)")
    parser.add_argument("--api-key", default=None, help="the same key for every worker")
    parser.add_argument("--redis", default=None, help="redis:// URL of shared state")
    parser.add_argument("--record", default=None, help="record every session into this folder")
    args = parser.parse_args()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
