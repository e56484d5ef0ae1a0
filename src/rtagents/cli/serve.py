"""``rtagents serve``: the self-hosted Realtime server on uvicorn."""

from __future__ import annotations

import argparse
import secrets
import sys


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ..observability.logging import configure_logging
    from ..server.app import create_app
    from ..server.config import ServerConfig

    configure_logging(args.log_format, args.log_level)
    api_key = args.api_key or "sk-local-" + secrets.token_urlsafe(24)
    if not args.api_key:
        # Printed once so the operator can mint secrets; never logged again.
        print(f"rtagents: no --api-key given; this run's API key is {api_key}", file=sys.stderr)
    config = ServerConfig(
        host=args.host,
        port=args.port,
        api_key=api_key,
        session_cap_s=args.session_cap,
        model=args.model,
    )
    app = create_app(config)
    print(
        f"rtagents: serving Realtime GA on ws://{args.host}:{args.port}/v1/realtime "
        f"(client secrets: POST http://{args.host}:{args.port}/v1/realtime/client_secrets)",
        file=sys.stderr,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        ws_max_size=config.ws_max_size,
        log_level=str(args.log_level).lower(),
        access_log=False,
    )
    return 0
