"""``rtagents serve``: the self-hosted Realtime server until SIGINT/SIGTERM.

It runs on :func:`rtagents.server.runner.running_server`, the same code the
tests and the demo use, so a shutdown closes every open session with 1001
("going away", which reconnecting clients retry) instead of uvicorn's 1012.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engines.base import Engines
    from ..server.config import ServerConfig


@contextlib.asynccontextmanager
async def engines_for(args: argparse.Namespace) -> AsyncIterator[Engines]:
    """The engine set ``--engine`` names, freed (model server stopped) on exit.

    ``local`` is built unloaded: the server opens its port at once and warms
    the models in the background (progress in the log, readiness on /healthz).
    """
    from ..engines.warmup import close_engines

    if getattr(args, "engine", "scripted") == "local":
        from ..engines.local.factory import local_engines

        engines = local_engines(
            llm_url=args.llm_url, llm_model=args.llm_model, stt_threads=args.stt_threads
        )
    else:
        from ..engines.scripted import scripted_engines

        engines = scripted_engines()
    try:
        yield engines
    finally:
        await close_engines(engines)


def server_config(args: argparse.Namespace, api_key: str) -> ServerConfig:
    """The server's settings from ``rtagents serve``'s flags."""
    from ..server.config import ServerConfig

    return ServerConfig(
        host=args.host,
        port=args.port,
        api_key=api_key,
        session_cap_s=args.session_cap,
        model=args.model,
        console=args.console,
        ice_servers=list(args.ice_server),
        webrtc_loopback=args.webrtc_loopback,
        resume_grace_s=args.resume_grace,
    )


async def serve_until_stopped(args: argparse.Namespace, api_key: str) -> None:
    from ..server.runner import running_server

    config = server_config(args, api_key)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with engines_for(args) as engines, running_server(config, engines) as server:
        # Everything alive now (modules, models, the app) lives as long as the
        # process: moving it out of the collector's reach cuts full-collection
        # pauses under many sessions from ~100 ms to ~30 ms (bench/load.py).
        gc.freeze()
        print(
            f"rtagents: serving Realtime GA on {server.ws_url} "
            f"(client secrets: POST {server.http_url}/v1/realtime/client_secrets)",
            file=sys.stderr,
            flush=True,
        )
        print(f"rtagents: browser console at {server.http_url}/", file=sys.stderr, flush=True)
        await stop.wait()
        print("rtagents: shutting down; closing sessions with 1001", file=sys.stderr, flush=True)


def run_serve(args: argparse.Namespace) -> int:
    from ..observability.logging import configure_logging

    configure_logging(args.log_format, args.log_level)
    api_key = args.api_key or "sk-local-" + secrets.token_urlsafe(24)
    if not args.api_key:
        # Printed once so the operator can mint secrets; never logged again.
        print(f"rtagents: no --api-key given; this run's API key is {api_key}", file=sys.stderr)
    asyncio.run(serve_until_stopped(args, api_key))
    return 0
