"""What a :class:`~.faults.FaultProxy` does to a connection: one :class:`Fault`, or a plan of them.

Kept apart from the proxy so the pipes that carry out a fault and the proxy
that hands plans out both depend on it, and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["cut", "half_close", "stall", "delay", "fragment"]
Direction = Literal["up", "down", "both"]  # up: client -> server, down: server -> client


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One thing to do to a connection, once ``at_byte`` or ``at_s`` is reached.

    ``at_byte`` counts bytes forwarded in ``direction``; a ``both`` fault
    triggers in each direction on its own count (a cut at the first). With
    neither trigger the fault applies from the start.
    ``ms`` is the stall length (None: forever) or the added latency;
    ``size`` the piece size of ``fragment``.
    """

    kind: FaultKind
    direction: Direction = "both"
    at_byte: int | None = None
    at_s: float | None = None
    ms: float | None = None
    size: int = 1

    @classmethod
    def cut(
        cls, *, at_byte: int | None = None, at_s: float | None = None, direction: Direction = "both"
    ) -> Fault:
        """Reset both sides (RST, no close frame): a dead network or a killed peer."""
        return cls(kind="cut", direction=direction, at_byte=at_byte, at_s=at_s)

    @classmethod
    def half_close(
        cls,
        direction: Literal["up", "down"] = "up",
        *,
        at_byte: int | None = None,
        at_s: float | None = None,
    ) -> Fault:
        """Send FIN onward in ``direction`` and drop what follows; the other way flows."""
        return cls(kind="half_close", direction=direction, at_byte=at_byte, at_s=at_s)

    @classmethod
    def stall(
        cls,
        ms: float | None = None,
        *,
        direction: Direction = "both",
        at_byte: int | None = None,
        at_s: float | None = None,
    ) -> Fault:
        """Stop forwarding for ``ms`` (None: until the connection ends); nothing is lost."""
        return cls(kind="stall", direction=direction, at_byte=at_byte, at_s=at_s, ms=ms)

    @classmethod
    def delay(
        cls,
        ms: float,
        *,
        direction: Direction = "both",
        at_byte: int | None = None,
        at_s: float | None = None,
    ) -> Fault:
        """Hold every chunk ``ms`` before forwarding it (latency, not a bandwidth cap)."""
        return cls(kind="delay", direction=direction, at_byte=at_byte, at_s=at_s, ms=ms)

    @classmethod
    def fragment(
        cls,
        size: int = 1,
        *,
        direction: Direction = "both",
        at_byte: int | None = None,
        at_s: float | None = None,
    ) -> Fault:
        """Forward in writes of at most ``size`` bytes (a parser's worst day)."""
        if size < 1:
            raise ValueError(f"fragment size must be >= 1, got {size}")
        return cls(kind="fragment", direction=direction, at_byte=at_byte, at_s=at_s, size=size)
