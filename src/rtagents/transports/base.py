"""The one seam every transport implements.

A transport moves whole text messages (JSON events) both ways and reports how
it closed. It knows nothing of events: the session above it owns the codec.
WebSocket, WebRTC data channel and the in-memory pair all look like this, so
the client session and the server session host run unchanged on each.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..protocol.errors import ConnectionFailure, Origin

# Close codes with a meaning the session layers rely on (RFC 6455 numbering).
NORMAL_CLOSURE = 1000
GOING_AWAY = 1001  # session cap reached, server shutting down
PROTOCOL_ERROR = 1002
ABNORMAL_CLOSURE = 1006  # no close frame: dropped connection
POLICY_VIOLATION = 1008  # authentication refused after accept
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011


class TransportClosed(ConnectionFailure):
    """The transport is closed; ``code``/``reason`` say how (1006 if it dropped)."""

    def __init__(self, code: int, reason: str = "", *, origin: Origin = Origin.REMOTE) -> None:
        detail = f"connection closed with code {code}" + (f": {reason}" if reason else "")
        super().__init__(detail, origin=origin, code=f"close_{code}")
        self.close_code = code
        self.reason = reason


class ClosedLatch:
    """How a transport closed, recorded once: the first close wins, later ones change nothing.

    Every transport needs the same rule: once closed, by either side, every
    ``send``/``recv`` raises the one :class:`TransportClosed` that says how, and
    ``close`` does nothing more. Each used to keep its own copy of this latch.

    The one error is handed out with its traceback cleared each time. Raising
    an exception object again prepends that raise's frames to the traceback it
    already has, so a closed transport polled in a loop grew its error by every
    raise's frames, and those frames (and the session they reference) stayed
    alive in a cycle that only a full collection frees.
    """

    __slots__ = ("error",)

    def __init__(self) -> None:
        self.error: TransportClosed | None = None

    @property
    def closed(self) -> bool:
        return self.error is not None

    @property
    def code(self) -> int | None:
        """The close code once closed, else ``None``."""
        return self.error.close_code if self.error is not None else None

    @property
    def reason(self) -> str | None:
        """The close reason once closed, else ``None``."""
        return self.error.reason if self.error is not None else None

    def record(
        self, code: int, reason: str = "", *, origin: Origin = Origin.REMOTE
    ) -> TransportClosed:
        """Latch this close unless one is already latched; return the latched one."""
        if self.error is None:
            self.error = TransportClosed(code, reason, origin=origin)
        return self.error.with_traceback(None)

    def adopt(self, error: TransportClosed) -> TransportClosed:
        """Latch ``error`` unless a close is already latched; return the latched one."""
        if self.error is None:
            self.error = error
        return self.error.with_traceback(None)

    def raise_if_closed(self) -> None:
        if self.error is not None:
            raise self.error.with_traceback(None)


def frameless(cause: BaseException) -> BaseException:
    """``cause`` with its traceback dropped, to chain a latched close to (``raise ... from``).

    A latched :class:`TransportClosed` lives as long as its transport. Chained to
    an exception that kept its traceback, it would hold the frame that raised
    it, that frame the transport, and the transport the latch: a cycle only a
    full collection frees, with the whole session in it. The cause's type and
    message stay.
    """
    return cause.with_traceback(None)


@runtime_checkable
class Transport(Protocol):
    """A bidirectional message pipe.

    ``recv`` returns the next message (``str`` for text frames, ``bytes`` for
    binary ones, which the protocol forbids but peers send anyway) and raises
    :class:`TransportClosed` once the pipe is closed, every time it is called
    after that. ``close`` is idempotent.
    """

    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None: ...

    @property
    def closed(self) -> bool: ...
