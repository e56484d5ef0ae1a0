"""``rtagents`` command line: serve, mint, demo.

Imports stay inside the sub-commands so ``rtagents --help`` is instant and a
broken optional dependency only breaks the command that needs it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def _add_logging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-format", choices=("console", "json"), default="console")
    parser.add_argument("--log-level", default="INFO", help="DEBUG shows every audio delta")


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=("local", "scripted"),
        default="local",
        help="local: offline Whisper + LLM + Piper (default); scripted: the deterministic "
        "test double (instant, no models)",
    )
    parser.add_argument(
        "--llm-url",
        default=os.environ.get("RTAGENTS_LLM_URL"),
        help="an OpenAI-compatible server (Ollama: http://127.0.0.1:11434) instead of the "
        "embedded SmolLM2; key from env RTAGENTS_LLM_API_KEY (env RTAGENTS_LLM_URL)",
    )
    parser.add_argument(
        "--llm-model",
        default=os.environ.get("RTAGENTS_LLM_MODEL"),
        help="model name at --llm-url (default llama3.2; env RTAGENTS_LLM_MODEL)",
    )
    parser.add_argument(
        "--stt-threads", type=int, default=2, help="CPU threads for Whisper (default 2)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtagents", description="Realtime voice agents on the OpenAI Realtime GA protocol."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the self-hosted Realtime server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--api-key",
        default=os.environ.get("RTAGENTS_API_KEY"),
        help="server API key (env RTAGENTS_API_KEY); a random one is printed if unset",
    )
    serve.add_argument(
        "--session-cap",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="close sessions after this long with code 1001 (default 3600)",
    )
    serve.add_argument("--model", default="gpt-realtime", help="model name sessions report")
    serve.add_argument(
        "--console",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve the browser console's secret endpoint (default: only on a loopback "
        "--host; see docs/console.md)",
    )
    serve.add_argument(
        "--ice-server",
        action="append",
        default=[],
        metavar="URL",
        help="STUN/TURN server for WebRTC calls (repeatable; default none: host candidates "
        "only, never a public STUN host)",
    )
    serve.add_argument(
        "--webrtc-loopback",
        action="store_true",
        help="offer 127.0.0.1 host candidates (machines with only a loopback interface)",
    )
    serve.add_argument(
        "--resume-grace",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="keep a dropped session this long for an opted-in client to resume (0: off)",
    )
    _add_engine_options(serve)
    _add_logging(serve)

    mint = commands.add_parser("mint", help="print an ephemeral client secret (ek_...)")
    mint.add_argument(
        "--url",
        default="http://127.0.0.1:8000",
        help="server base URL (https://api.openai.com for OpenAI)",
    )
    mint.add_argument(
        "--api-key",
        default=os.environ.get("RTAGENTS_API_KEY") or os.environ.get("OPENAI_API_KEY"),
        help="API key (env RTAGENTS_API_KEY or OPENAI_API_KEY)",
    )
    mint.add_argument("--ttl", type=int, default=600, help="seconds, 10..7200 (default 600)")
    mint.add_argument("--session", default=None, help="session config as JSON")

    demo = commands.add_parser("demo", help="offline spoken conversation over a real WebSocket")
    demo.add_argument("--json", action="store_true", help="print the report as JSON")
    demo.add_argument(
        "--engine",
        choices=("local", "scripted"),
        default="local",
        help="local: the embedded voice pipeline (default); scripted: the tone-coded test engine",
    )
    demo.add_argument(
        "--llm-url",
        default=os.environ.get("RTAGENTS_LLM_URL"),
        help="OpenAI-compatible LLM endpoint instead of the embedded SmolLM2",
    )
    demo.add_argument("--out", default="rtagents-demo", help="where reply WAVs are written")
    _add_logging(demo)
    demo.set_defaults(log_level="WARNING")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from .serve import run_serve

        return run_serve(args)
    if args.command == "mint":
        from .mint import run_mint

        return run_mint(args)
    from .demo import run_demo

    return run_demo(args)


if __name__ == "__main__":
    sys.exit(main())
