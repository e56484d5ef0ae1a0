"""``doctor connect``'s steps: each bounded by a timeout, classified, stopping at the first failure.

A step is one thing that can go wrong on the way to a working session (DNS,
TCP, TLS, auth, upgrade, ...). Its result says pass or fail, the category the
failure belongs to (connection, protocol, model or tool: the same four as every
rtagents error) and the fix, so the person reading it knows where to look
before touching a prompt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from ..protocol.errors import Category


class StepFailed(Exception):
    """A step's check failed: what was seen, and what to do about it."""

    def __init__(self, detail: str, fix: str, *, category: Category | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix
        self.category = category


@dataclass(frozen=True, slots=True)
class ConnectStep:
    """One check: its name, the category its failures belong to, and the check itself.

    ``check`` returns what it saw (one line); ``timeout_fix`` is the advice when
    it does not finish in time (a callable for advice that depends on how far
    it got, such as which ICE step stalled).
    """

    name: str
    category: Category
    check: Callable[[], Awaitable[str]]
    timeout_fix: str | Callable[[], str]


@dataclass(frozen=True, slots=True)
class StepResult:
    name: str
    ok: bool
    category: Category
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "step": self.name,
            "ok": self.ok,
            "category": str(self.category),
            "detail": self.detail,
            "fix": self.fix,
        }


async def run_steps(
    steps: Sequence[ConnectStep],
    timeout_s: float,
    report: Callable[[StepResult], None] = lambda result: None,
) -> list[StepResult]:
    """Run ``steps`` in order, each within ``timeout_s``; stop after the first failure."""
    results: list[StepResult] = []
    for step in steps:
        result = await _run_one(step, timeout_s)
        results.append(result)
        report(result)
        if not result.ok:
            break
    return results


async def _run_one(step: ConnectStep, timeout_s: float) -> StepResult:
    try:
        async with asyncio.timeout(timeout_s):
            detail = await step.check()
    except StepFailed as failed:
        category = failed.category or step.category
        return StepResult(step.name, False, category, failed.detail, failed.fix)
    except TimeoutError:
        detail = f"no progress within {timeout_s:g} s"
        fix = step.timeout_fix if isinstance(step.timeout_fix, str) else step.timeout_fix()
        return StepResult(step.name, False, step.category, detail, fix)
    except Exception as exc:  # a check that broke is still this step's failure, said plainly
        detail = f"{type(exc).__name__}: {exc}"
        fix = "unexpected: rerun with --timeout larger, and report it if it repeats"
        return StepResult(step.name, False, step.category, detail, fix)
    return StepResult(step.name, True, step.category, detail)


def print_result(result: StepResult, out: TextIO) -> None:
    """``pass``/``FAIL``, the step, its category and what was seen; the fix under a failure."""
    mark = "pass" if result.ok else "FAIL"
    print(f"  {mark}  {result.name:<22} {result.category!s:<10}  {result.detail}", file=out)
    if result.fix:
        print(f"        fix: {result.fix}", file=out, flush=True)
    out.flush()
