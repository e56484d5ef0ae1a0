"""``rtagents doctor``: find beta-era usage (``scan``); check a server step by step (``connect``).

Only the flags live here; each sub-command's work is imported when it runs, so
``rtagents --help`` stays instant and ``scan`` never loads aiortc.
"""

from __future__ import annotations

import argparse
from typing import Any


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


def run_doctor(args: argparse.Namespace) -> int:
    from .doctor_scan_files import run_scan

    return run_scan(args)
