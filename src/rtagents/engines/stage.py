"""How near an engine call is to a caller hearing something: the order of shared CPU work.

Several voice sessions on one machine share one set of local engines. When
their calls queue for the CPU (:class:`rtagents.engines.local.cpu_gate.CpuGate`),
the call whose result a caller is waiting to *hear* goes first: a reply's
first speech before a turn's transcript, that transcript before more speech
of a reply already playing (the caller has audio buffered), and all of them
before partial transcripts shown while the user still speaks.

The server says which stage a call serves by setting it around the call
(:func:`engine_stage`); engines read it (:func:`current_stage`), so the engine
seam's signatures stay as they are. It is a context variable: each asyncio
task sees its own, and an async generator sees the stage of the task that
iterates it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import IntEnum


class Stage(IntEnum):
    """Lower runs first."""

    FIRST_SPEECH = 0
    """A reply's first speech, nothing of it heard yet (held speculative speech included)."""
    TURN_END = 1
    """Transcribing a turn that has ended, or whose silence began (its reply waits on it)."""
    SPEECH = 2
    """More speech of a reply already playing: the caller has audio buffered."""
    PARTIAL = 3
    """A partial transcript while the user still speaks: only shown, never waited on."""


_STAGE: ContextVar[Stage] = ContextVar("rtagents_engine_stage", default=Stage.SPEECH)


def current_stage() -> Stage:
    """The stage the running task's engine calls serve (``SPEECH`` unless set)."""
    return _STAGE.get()


@contextmanager
def engine_stage(stage: Stage) -> Iterator[None]:
    """Engine calls made inside the block serve ``stage``."""
    token = _STAGE.set(stage)
    try:
        yield
    finally:
        _STAGE.reset(token)
