"""``rtagents mint``: print an ephemeral client secret for a browser or app."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime


def run_mint(args: argparse.Namespace) -> int:
    from ..client import mint_client_secret
    from ..protocol.errors import RealtimeError

    if not args.api_key:
        print("rtagents mint: no API key; pass --api-key or set RTAGENTS_API_KEY", file=sys.stderr)
        return 2
    try:
        session = json.loads(args.session) if args.session else None
    except json.JSONDecodeError as exc:
        print(f"rtagents mint: --session is not valid JSON: {exc}", file=sys.stderr)
        return 2
    try:
        secret = asyncio.run(
            mint_client_secret(args.url, args.api_key, session=session, ttl_s=args.ttl)
        )
    except RealtimeError as exc:
        print(f"rtagents mint: {exc}", file=sys.stderr)
        return 1
    expires = datetime.fromtimestamp(secret.expires_at, UTC).isoformat(timespec="seconds")
    print(secret.value)
    print(f"expires at {expires}", file=sys.stderr)
    return 0
