"""``doctor scan``'s core: beta usages in a file's lines, with the allowance for recognisers.

Code that *recognises* beta shapes on purpose (the protocol's beta tables, a
decoder's legacy branch, an error message that names the beta header) says so
with an explicit marker that the scanner honours:

- ``doctor: allow-beta`` anywhere on a line (in a comment) allows that line;
- ``doctor: allow-beta-begin`` ... ``doctor: allow-beta-end`` allows the lines
  between (a table); a begin without its end is itself reported, so a typo
  cannot silence the rest of a file.

Pure: lines in, findings out (the walk over files is in ``doctor_scan_files``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Final

from ..protocol.beta import BETA_SESSION_FIELDS
from .doctor_rules import FileKind, Hit, field_hit, line_hits
from .doctor_structure import tracker_for

ALLOW_LINE: Final = "doctor: allow-beta"
ALLOW_BEGIN: Final = "doctor: allow-beta-begin"
ALLOW_END: Final = "doctor: allow-beta-end"
# Locations listed per file and per (rule, text); the rest are counted. A beta
# recording of an hour holds ~100k audio deltas: their count says enough.
SHOWN_PER_USAGE: Final = 5

_SUFFIX_KINDS: Final[dict[str, FileKind]] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "js",
    ".mjs": "js",
    ".cjs": "js",
    ".jsx": "js",
    ".ts": "js",
    ".tsx": "js",
    ".mts": "js",
    ".cts": "js",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".env": "env",
    ".log": "text",
    ".txt": "text",
    ".md": "markup",
    ".html": "markup",
    ".sh": "markup",
    ".cfg": "markup",
    ".ini": "markup",
}


def kind_of(path: PurePath) -> FileKind | None:
    """How ``path``'s keys are written, or None for a file kind the scan skips."""
    name = path.name.lower()
    if name == ".env" or name.startswith(".env."):
        return "env"
    return _SUFFIX_KINDS.get(path.suffix.lower())


@dataclass(frozen=True, slots=True)
class Finding:
    """One beta usage: where (1-based line and column) and what to write instead."""

    path: str
    line: int
    column: int
    rule: str
    found: str
    what: str
    replacement: str
    more: int = 0
    """How many further occurrences of the same usage this file has (not listed)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "found": self.found,
            "what": self.what,
            "replacement": self.replacement,
            "more": self.more,
        }


@dataclass
class _Tally:
    """Findings of one file, at most ``SHOWN_PER_USAGE`` per usage, the rest counted."""

    shown: dict[tuple[str, str], list[Finding]] = field(default_factory=dict)
    extra: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, finding: Finding) -> None:
        usage = (finding.rule, finding.found)
        listed = self.shown.setdefault(usage, [])
        if len(listed) < SHOWN_PER_USAGE:
            listed.append(finding)
        else:
            self.extra[usage] = self.extra.get(usage, 0) + 1

    def findings(self) -> list[Finding]:
        result: list[Finding] = []
        for usage, listed in self.shown.items():
            more = self.extra.get(usage, 0)
            if more:
                last = listed[-1]
                listed = [*listed[:-1], _with_more(last, more)]
            result.extend(listed)
        return sorted(result, key=lambda f: (f.line, f.column, f.rule))


def _with_more(finding: Finding, more: int) -> Finding:
    return Finding(
        finding.path,
        finding.line,
        finding.column,
        finding.rule,
        finding.found,
        finding.what,
        finding.replacement,
        more,
    )


def scan_lines(path: str, lines: Iterable[str], kind: FileKind) -> list[Finding]:
    """Every beta usage in ``lines`` (one file, shown as ``path``), allowed lines left out."""
    tally = _Tally()
    for finding in _findings(path, lines, kind):
        tally.add(finding)
    return tally.findings()


def _findings(path: str, lines: Iterable[str], kind: FileKind) -> Iterator[Finding]:
    tracker = tracker_for(kind)
    allowed_since: int | None = None
    number = 0
    for number, line in enumerate(lines, 1):
        text = line.rstrip("\r\n")
        top_keys = tracker.feed(text)  # fed even on allowed lines: nesting stays right
        begins, ends = ALLOW_BEGIN in text, ALLOW_END in text
        if begins != ends:  # both on one line (this docstring's) allow just that line
            allowed_since = (allowed_since or number) if begins else None
            continue
        if allowed_since is not None or ALLOW_LINE in text:
            continue
        hits = [
            field_hit(col, owner, key) for col, owner, key in top_keys if key in BETA_SESSION_FIELDS
        ]
        hits.extend(line_hits(text, kind))
        yield from _located(path, number, hits)
    if allowed_since is not None:
        yield Finding(
            path,
            allowed_since,
            1,
            "allow-unclosed",
            ALLOW_BEGIN,
            f"'{ALLOW_BEGIN}' has no '{ALLOW_END}': it would hide the rest of the file",
            f"add '{ALLOW_END}' after the lines that recognise beta shapes",
        )


def _located(path: str, number: int, hits: list[Hit]) -> Iterator[Finding]:
    """Findings of one line; a usage two rules agree on is reported once."""
    seen: set[tuple[int, str]] = set()
    for hit in hits:
        if (hit.column, hit.rule) in seen:
            continue
        seen.add((hit.column, hit.rule))
        yield Finding(path, number, hit.column + 1, hit.rule, hit.found, hit.what, hit.replacement)
