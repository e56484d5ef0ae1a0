"""The public test kit: run rtagents code against a scripted model, in memory.

``session_pair`` joins a client ``Session`` to a server session host in
memory (no socket); ``memory_pair`` joins two transports; the scripted engine
(``scripted_engines``, ``Rule``, ``Say``, ``CallTool``, ``Fail``) is a
deterministic model whose speech (``scripted_speech``) the server transcribes
exactly; ``FakeClock`` is injected wherever code takes a ``clock`` (and its
``sleep`` wherever code waits); ``rtagents.testing.conformance`` is the suite
every transport passes; ``FaultProxy`` breaks real TCP connections on purpose
(``Fault``, ``RandomFaults``). Names load on first use, so importing the kit
costs nothing until you need a part.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engines.scripted import (
        MS_PER_CHAR,
        CallTool,
        Fail,
        Rule,
        Say,
        ScriptedLLM,
        ScriptedSTT,
        ScriptedTTS,
        scripted_engines,
        scripted_speech,
        speakable,
    )
    from ..transports.memory import MemoryTransport, memory_pair
    from .clock import FakeClock
    from .faults import Fault, FaultProxy, RandomFaults
    from .in_memory import SessionPair, session_pair

_SOURCES = {
    "MS_PER_CHAR": "rtagents.engines.scripted",
    "CallTool": "rtagents.engines.scripted",
    "Fail": "rtagents.engines.scripted",
    "Rule": "rtagents.engines.scripted",
    "Say": "rtagents.engines.scripted",
    "ScriptedLLM": "rtagents.engines.scripted",
    "ScriptedSTT": "rtagents.engines.scripted",
    "ScriptedTTS": "rtagents.engines.scripted",
    "scripted_engines": "rtagents.engines.scripted",
    "scripted_speech": "rtagents.engines.scripted",
    "speakable": "rtagents.engines.scripted",
    "MemoryTransport": "rtagents.transports.memory",
    "memory_pair": "rtagents.transports.memory",
    "FakeClock": "rtagents.testing.clock",
    "Fault": "rtagents.testing.faults",
    "FaultProxy": "rtagents.testing.faults",
    "RandomFaults": "rtagents.testing.faults",
    "SessionPair": "rtagents.testing.in_memory",
    "session_pair": "rtagents.testing.in_memory",
}

__all__ = [
    "MS_PER_CHAR",
    "CallTool",
    "Fail",
    "FakeClock",
    "Fault",
    "FaultProxy",
    "MemoryTransport",
    "RandomFaults",
    "Rule",
    "Say",
    "ScriptedLLM",
    "ScriptedSTT",
    "ScriptedTTS",
    "SessionPair",
    "memory_pair",
    "scripted_engines",
    "scripted_speech",
    "session_pair",
    "speakable",
]


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module 'rtagents.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES))
