"""``rtagents doctor``: find beta-era usage (``scan``); check a server step by step (``connect``).

Only the flags live here; each sub-command's work is imported when it runs, so
``rtagents --help`` stays instant and ``scan`` never loads aiortc.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

DEFAULT_STEP_TIMEOUT_S = 10.0


def add_doctor_parser(commands: Any) -> None:
    """Register ``doctor scan`` and ``doctor connect`` on the main parser's sub-commands."""
    doctor = commands.add_parser(
        "doctor",
        help="find beta-era API usage; check a Realtime server step by step",
        description="scan: list beta-era usage in code, config, logs and recordings with the "
        "GA replacement (exit 1 if any). connect: check DNS, TCP, TLS, auth, the WebSocket "
        "upgrade, session.created and a text turn (or, with --webrtc, the SDP exchange, ICE, "
        "DTLS and the data channel), stopping at the first failure with its category and fix.",
    )
    checks = doctor.add_subparsers(dest="doctor_command", required=True)
    from .doctor_scan_files import add_scan_flags

    add_scan_flags(
        checks.add_parser(
            "scan",
            help="find beta-era Realtime usage in files",
            description="Find beta-era Realtime usage (header, endpoints, event names, flat "
            "session fields, format strings, models, close 4000) in code, config, logs and "
            "recordings. Lines carrying the allow-beta marker are skipped: for code that "
            "recognises beta shapes on purpose (docs/debugging.md, 'doctor'). Exit status 1 "
            "when anything is found.",
        )
    )
    connect = checks.add_parser(
        "connect",
        help="check a Realtime server step by step",
        description="Check a Realtime server one step at a time; stop at the first failure "
        "with its category (connection/protocol/model/tool) and the fix. Exit status 1 on "
        "a failure.",
    )
    connect.add_argument("url", help="ws(s):// or http(s):// URL of the server (?model= kept)")
    connect.add_argument(
        "--api-key",
        default=os.environ.get("RTAGENTS_API_KEY") or os.environ.get("OPENAI_API_KEY"),
        help="API key (env RTAGENTS_API_KEY or OPENAI_API_KEY)",
    )
    connect.add_argument("--secret", default=None, help="an ephemeral client secret (ek_...)")
    connect.add_argument(
        "--webrtc", action="store_true", help="check a WebRTC call instead of a WebSocket"
    )
    connect.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_STEP_TIMEOUT_S,
        help="seconds each step may take (default %(default)s)",
    )
    connect.add_argument(
        "--loopback",
        action="store_true",
        help="WebRTC: also offer 127.0.0.1 as an ICE candidate (loopback-only hosts)",
    )
    connect.add_argument("--json", action="store_true", help="print the steps as JSON")


def run_doctor(args: argparse.Namespace) -> int:
    if args.doctor_command == "scan":
        from .doctor_scan_files import run_scan

        return run_scan(args)
    from .doctor_connect import run_connect

    return run_connect(args)
