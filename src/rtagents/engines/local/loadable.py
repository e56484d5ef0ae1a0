"""The start-up contract every embedded engine shares, so a factory can warm them up.

Loading a model takes from milliseconds (Silero) to over a second (Whisper),
and the first inference pays extra one-off costs (allocations, kernel
selection). A server should pay both before it accepts a call, with a progress
line per engine, instead of stalling the first caller. So each local engine
offers the same three members; none of them is part of the engine Protocols in
``engines.base``, which stay minimal for third-party engines.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Loadable(Protocol):
    @property
    def loaded(self) -> bool:
        """True once :meth:`load` succeeded."""
        ...

    def load(self) -> None:
        """Load the model (blocking; idempotent; raises EngineFailure with a hint)."""
        ...

    async def warm_up(self) -> None:
        """Load off the event loop and run one tiny inference."""
        ...
