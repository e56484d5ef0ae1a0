"""``rtagents serve``: the self-hosted Realtime server until SIGINT/SIGTERM.

It runs on :func:`rtagents.server.runner.running_server`, the same code the
tests and the demo use, so a shutdown closes every open session with 1001
("going away", which reconnecting clients retry) instead of uvicorn's 1012.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import signal
import sys


async def serve_until_stopped(args: argparse.Namespace, api_key: str) -> None:
    from ..server.config import ServerConfig
    from ..server.runner import running_server

    config = ServerConfig(
        host=args.host,
        port=args.port,
        api_key=api_key,
        session_cap_s=args.session_cap,
        model=args.model,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_server(config) as server:
        print(
            f"rtagents: serving Realtime GA on {server.ws_url} "
            f"(client secrets: POST {server.http_url}/v1/realtime/client_secrets)",
            file=sys.stderr,
            flush=True,
        )
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
