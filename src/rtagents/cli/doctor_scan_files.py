"""``rtagents doctor scan PATH...``: walk files, scan each, print findings, exit 1 if any.

Directories are walked for the file kinds the scan knows (code, config, logs,
recordings); hidden directories, virtual environments, ``node_modules`` and
caches are skipped. A file named on the command line is scanned whatever its
suffix (as a log). Files stream line by line, so a rotated recording part of
64 MiB costs no more memory than a line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final, TextIO

from .doctor_rules import FileKind
from .doctor_scan import Finding, kind_of, scan_lines
from .failures import CliError

_SKIPPED_DIRS: Final = frozenset(
    {"node_modules", "__pycache__", "site-packages", "dist", "build", "venv", "env"}
)
_BINARY_SNIFF: Final = 8192


def add_scan_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")


def run_scan(args: argparse.Namespace) -> int:
    findings, scanned = scan_paths([Path(p) for p in args.paths])
    if args.json:
        json.dump(
            {"files_scanned": scanned, "findings": [f.to_dict() for f in findings]},
            sys.stdout,
            indent=2,
        )
        print()
    else:
        print_findings(findings, scanned, sys.stdout)
    return 1 if findings else 0


def scan_paths(paths: Sequence[Path]) -> tuple[list[Finding], int]:
    """Findings in every file under ``paths``, and how many files were read."""
    findings: list[Finding] = []
    scanned = 0
    for path, kind in _files(paths):
        read = _scan_file(path, kind)
        if read is not None:
            scanned += 1
            findings.extend(read)
    return findings, scanned


def _files(paths: Sequence[Path]) -> Iterator[tuple[Path, FileKind]]:
    for path in paths:
        if path.is_dir():
            yield from _walk(path)
        elif path.is_file():
            yield path, kind_of(path) or "text"
        else:
            raise CliError(f"{path}: no such file or directory", exit_code=2)


def _walk(root: Path) -> Iterator[tuple[Path, FileKind]]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _skipped_dir(d))
        for name in sorted(names):
            path = Path(folder, name)
            kind = kind_of(path)
            if kind is not None:
                yield path, kind


def _skipped_dir(name: str) -> bool:
    return name.startswith(".") or name in _SKIPPED_DIRS or name.endswith(".egg-info")


def _scan_file(path: Path, kind: FileKind) -> list[Finding] | None:
    """The file's findings, or None for a binary or unreadable file (said on stderr)."""
    try:
        with path.open("rb") as raw:
            if b"\0" in raw.read(_BINARY_SNIFF):
                return None
        with path.open(encoding="utf-8", errors="replace", newline="") as text:
            return scan_lines(str(path), text, kind)
    except OSError as exc:
        print(f"rtagents doctor scan: skipped {path}: {exc.strerror or exc}", file=sys.stderr)
        return None


def print_findings(findings: Sequence[Finding], scanned: int, out: TextIO) -> None:
    """One line per finding (file:line:column: what -> GA), then a summary."""
    for f in findings:
        more = f" (+{f.more} more like it in this file)" if f.more else ""
        print(f"{f.path}:{f.line}:{f.column}: [{f.rule}] {f.found!r}: {f.what}{more}", file=out)
        print(f"    GA: {f.replacement}", file=out)
    files = len({f.path for f in findings})
    total = len(findings) + sum(f.more for f in findings)
    if findings:
        print(f"{total} beta usage(s) in {files} of {scanned} file(s) scanned.", file=out)
    else:
        print(f"No beta usage found in {scanned} file(s) scanned.", file=out)
