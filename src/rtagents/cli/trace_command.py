"""``rtagents trace FILE [--html OUT] [--json]``: what happened in a recorded session.

Exit status: 0 when the recording shows no failure and no ordering anomaly,
1 when it does (so a CI step can run a scripted session and gate on it), 2
when FILE cannot be traced (missing, not a recording, another version).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .failures import CliError

FOUND_FAILURES = 1


def add_trace_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a recording (NAME.jsonl; its rotated parts are read too)")
    parser.add_argument("--html", metavar="OUT", default=None, help="also write an HTML report")
    parser.add_argument("--json", action="store_true", help="print the analysis as JSON")


def run_trace(args: argparse.Namespace) -> int:
    from ..observability.recording_format import RecordingError
    from ..observability.trace_analysis import trace_file
    from ..observability.trace_html import render_html
    from ..observability.trace_text import render_text

    path = Path(args.file)
    try:
        trace = trace_file(path)
    except RecordingError as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if args.html:
        out = Path(args.html)
        try:
            out.write_text(render_html(trace, path.name), encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write the HTML report to {out}: {exc.strerror or exc}") from exc
    if args.json:
        sys.stdout.write(json.dumps(trace.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(trace, path.name))
        if args.html:
            sys.stdout.write(f"HTML report: {args.html}\n")
    return FOUND_FAILURES if trace.failed else 0
