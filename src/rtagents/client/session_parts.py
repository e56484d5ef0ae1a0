"""The parts a session is composed of, as handed to the code that replaces its connection.

Opening, reconnect, rebuild and rollover work on the session's connection
from outside the :class:`~.session.Session` class. The session hands them
this record of its parts and itself as a :class:`SessionControl`; they use
public methods only, never the session's private attributes, and never
import the session module (so the package has no import cycle).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..transports.base import NORMAL_CLOSURE

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ..protocol.conversation import Conversation
    from ..protocol.lifecycle import Lifecycle, State
    from .connection import Connection
    from .ending import Ending
    from .gate import ResponseGate
    from .inbound import Inbound
    from .opening import Dialer
    from .outbound import Outbound
    from .policy import ReconnectPolicy
    from .stream import Predicate
    from .tasks import SessionTasks
    from .tools import ToolRunner


@dataclass(frozen=True, slots=True)
class SessionParts:
    """One session's collaborators (each created and owned by the session)."""

    initial_config: dict[str, Any] | None
    """The config sent as ``session.update`` before ``open()`` returns, if any."""
    inbound: Inbound
    """What was received: the mirror, the config asked for, delivery to the app."""
    outbound: Outbound
    """Where frames go: the current connection, or the send queue meanwhile."""
    gate: ResponseGate
    dialer: Dialer
    tasks: SessionTasks
    ending: Ending
    ring_bytes: int
    """Bound of each new server session's resend ring (0 without reconnect)."""
    clock: Callable[[], float] = time.monotonic
    """The stall watchdog's time: when the server was last heard, and now."""
    wall_clock: Callable[[], float] = time.time
    """Unix time, which the server's ``expires_at`` (the rollover's deadline) is in."""
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    """How the watchdog and the rollover wait between checks."""


class Clock(Protocol):
    """A clock tests move by hand (``rtagents.testing.FakeClock``): the time, and a sleep on it."""

    def __call__(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SessionControl(Protocol):
    """What opening, reconnect, rebuild and rollover use of the session itself."""

    ack_timeout: float
    stall_timeout: float | None
    reconnect_policy: ReconnectPolicy | None
    tools: ToolRunner

    @property
    def lifecycle(self) -> Lifecycle: ...

    @property
    def state(self) -> State: ...

    @property
    def session_id(self) -> str | None: ...

    @property
    def config(self) -> Any: ...

    @property
    def conversation(self) -> Conversation: ...

    @property
    def connection(self) -> Connection | None: ...

    async def install(self, connection: Connection) -> None: ...

    def connection_lost(self, cause: str, *, rebuild: bool = False) -> None: ...

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None: ...

    async def wait_for(
        self,
        event_type: str | Iterable[str],
        *,
        predicate: Predicate | None = None,
        timeout: float | None = 30.0,  # noqa: ASYNC109 - mirrors Session.wait_for
    ) -> Any: ...

    async def update_session(
        self,
        config: Mapping[str, Any] | BaseModel,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - mirrors Session.update_session
    ) -> Any: ...
