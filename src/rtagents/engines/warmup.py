"""Warm-up and readiness of an engine set: load models before the first user waits.

A server opens its port at once and warms its engines in the background;
``/healthz`` reports which parts are ready, still loading, or failed and why.
A part that fails does not stop the server: sessions still open, and whatever
needs the failed part fails with an :class:`~rtagents.engines.base.EngineFailure`
(category ``model``) that says what to fix, which is more useful to an
operator than a process that exits.

Parts load one after another, each in a worker thread (see
:class:`~rtagents.engines.base.Warmable`): on a small machine parallel loads
only fight for the same cores, and sequential timings are the honest ones to
print.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from .base import EngineFailure, Engines, Warmable

log = logging.getLogger("rtagents.engines.warmup")

PartState = Literal["pending", "loading", "ready", "failed"]
Overall = Literal["ready", "warming", "degraded"]
Progress = Callable[[str], None]
PART_ORDER = ("vad", "stt", "llm", "tts")  # the order a first turn needs them


@dataclass(frozen=True, slots=True, kw_only=True)
class PartStatus:
    """One engine's readiness: what it is, its state, how long loading took, why it failed."""

    label: str
    state: PartState
    seconds: float | None = None
    error: str = ""
    hint: str = ""
    note: str = ""  # ready, but in a lesser mode, and why
    retryable: bool = False  # failed, but may work later (a model server not up yet)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label, "state": self.state}
        if self.seconds is not None:
            data["seconds"] = round(self.seconds, 3)
        if self.error:
            data["error"] = self.error
        if self.hint:
            data["hint"] = self.hint
        if self.note:
            data["note"] = self.note
        return data


def engine_parts(engines: Engines) -> dict[str, Any]:
    """The engines present in the set, by part name, in :data:`PART_ORDER`."""
    found = {"vad": engines.vad, "stt": engines.stt, "llm": engines.llm, "tts": engines.tts}
    return {name: found[name] for name in PART_ORDER if found[name] is not None}


class WarmUp:
    """Warms every :class:`Warmable` part of ``engines``; tracks readiness.

    ``progress`` receives one line per step ("loading stt: whisper base
    (int8)...", "stt ready in 1.2 s"); the same lines are logged at INFO
    (failures at WARNING). A part whose failure is ``retryable`` (a model
    server that is not up yet) is tried again every ``retry_s`` seconds in
    the background, quietly, until it works or :meth:`stop` is called, so
    ``/healthz`` turns ready once the operator fixes it.
    """

    def __init__(
        self, engines: Engines, *, progress: Progress | None = None, retry_s: float = 10.0
    ) -> None:
        self._parts = engine_parts(engines)
        self._progress = progress
        self._retry_s = retry_s
        self._status = {
            name: PartStatus(
                label=engines.labels.get(name) or type(engine).__name__,
                state="pending" if isinstance(engine, Warmable) else "ready",
            )
            for name, engine in self._parts.items()
        }
        self._task: asyncio.Task[None] | None = None
        self._first_pass = asyncio.Event()

    def readiness(self) -> dict[str, PartStatus]:
        return dict(self._status)

    @property
    def overall(self) -> Overall:
        states = {status.state for status in self._status.values()}
        if states & {"pending", "loading"}:
            return "warming"
        return "degraded" if "failed" in states else "ready"

    def report(self) -> dict[str, Any]:
        """The ``/healthz`` body: overall status and each part's readiness."""
        return {
            "status": self.overall,
            "engines": {name: status.to_json() for name, status in self._status.items()},
        }

    def start(self) -> None:
        """Start warming in the background (idempotent; needs a running loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="rtagents-warm-up")

    async def stop(self) -> None:
        """Stop warming and retrying (a model load already in a thread finishes alone)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait(self) -> None:
        """Until every part was tried once (starts warming if nobody did)."""
        self.start()
        assert self._task is not None
        if self._first_pass.is_set():
            return
        passed = asyncio.create_task(self._first_pass.wait())
        try:
            await asyncio.wait({passed, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            passed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await passed

    async def run(self) -> None:
        pending = [name for name, status in self._status.items() if status.state == "pending"]
        for name in pending:
            await self._warm(name, self._parts[name])
        self._first_pass.set()
        if pending:
            ready = sum(s.state == "ready" for s in self._status.values())
            self._say(f"engines {self.overall}: {ready}/{len(self._status)} parts ready")
        while self._retry_s > 0 and (retry := self._retryable()):
            await asyncio.sleep(self._retry_s)
            for name in retry:
                await self._warm(name, self._parts[name], quiet=True)

    def _retryable(self) -> list[str]:
        return [n for n, s in self._status.items() if s.state == "failed" and s.retryable]

    async def _warm(self, name: str, engine: Warmable, *, quiet: bool = False) -> None:
        status = self._status[name]
        if not quiet:  # a quiet retry stays "failed" until it works: no flapping /healthz
            self._status[name] = replace(status, state="loading")
            self._say(f"loading {name}: {status.label}...")
        started = time.perf_counter()
        try:
            await engine.warm_up()
        except asyncio.CancelledError:
            self._status[name] = status
            raise
        except EngineFailure as exc:
            self._failed(name, started, str(exc), exc.hint, exc.retryable, quiet=quiet)
        except Exception as exc:  # a broken model must not take the server down
            log.debug("warming %s failed", name, exc_info=True)
            self._failed(name, started, f"{type(exc).__name__}: {exc}", "", False, quiet=quiet)
        else:
            seconds = time.perf_counter() - started
            # An engine that fell back to a lesser mode (FallbackTTS) says why in ``reason``.
            note = str(getattr(engine, "reason", "") or "")
            self._status[name] = PartStatus(
                label=status.label, state="ready", seconds=seconds, note=note
            )
            also = f" (fell back: {note})" if note else ""
            self._say(f"{name} ready: {status.label} in {seconds:.1f} s{also}")

    def _failed(
        self, name: str, started: float, error: str, hint: str, retryable: bool, *, quiet: bool
    ) -> None:
        seconds = time.perf_counter() - started
        status = self._status[name]
        self._status[name] = replace(
            status, state="failed", seconds=seconds, error=error, hint=hint, retryable=retryable
        )
        if not quiet:
            advice = f" ({hint})" if hint else ""
            again = f"; retrying every {self._retry_s:g} s" if retryable and self._retry_s else ""
            self._say(f"{name} FAILED: {status.label}: {error}{advice}{again}", failed=True)

    def _say(self, line: str, *, failed: bool = False) -> None:
        log.log(logging.WARNING if failed else logging.INFO, line)
        if self._progress is not None:
            self._progress(line)


async def close_engines(engines: Engines) -> None:
    """Free every part once: ``await aclose()`` if it has one, else ``close()`` in a thread.

    Model servers, HTTP pools and worker threads would otherwise outlive the
    server (and warn under ``pytest -W error``).
    """
    seen: set[int] = set()
    for name, engine in engine_parts(engines).items():
        if id(engine) in seen:
            continue
        seen.add(id(engine))
        aclose, close = getattr(engine, "aclose", None), getattr(engine, "close", None)
        try:
            if aclose is not None and inspect.iscoroutinefunction(aclose):
                await aclose()
            elif callable(close):
                await asyncio.to_thread(close)
        except Exception:
            log.warning("closing the %s engine failed", name, exc_info=True)
