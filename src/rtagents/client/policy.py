"""When a lost connection is worth another attempt, and how long to wait before it.

The policy is a table, not scattered ``if`` s, so ``docs/reliability.md`` can
show it and a test can check every row. Three outcomes:

- ``RESUME``: the connection broke but the session may live on (network drop,
  1006, server restart codes): reconnect and ask the server to resume it; if it
  cannot, rebuild it.
- ``REBUILD``: the session itself is over (1001: the session cap or the server
  going away; a resume refusal): reconnect into a fresh session and replay the
  conversation into it.
- ``NEVER``: retrying cannot help (1000 a deliberate close, 1002/1003/1007/
  1008/1009 the client sent something wrong, a 4xx handshake answer: bad key,
  bad URL, bad request). The session fails with that reason.

Backoff is "full jitter": attempt ``n`` waits ``uniform(0, min(cap, base·2^(n-1)))``,
which spreads a crowd of clients that lost the same server instead of having
them all retry in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from ..protocol.errors import ConnectionFailure


class Decision(StrEnum):
    RESUME = "resume"
    REBUILD = "rebuild"
    NEVER = "never"


CLOSE_CODE_POLICY: Final[dict[int, tuple[Decision, str]]] = {
    1000: (Decision.NEVER, "normal closure: someone ended the session on purpose"),
    1001: (Decision.REBUILD, "going away: session cap reached or server shutting down"),
    1002: (Decision.NEVER, "protocol error: the peer rejected our frames"),
    1003: (Decision.NEVER, "unsupported data: the peer rejected our frames"),
    1005: (Decision.RESUME, "no status code: the close carried no reason"),
    1006: (Decision.RESUME, "abnormal closure: the connection dropped"),
    1007: (Decision.NEVER, "invalid payload: the peer rejected our data"),
    1008: (Decision.NEVER, "policy violation: authentication or policy refused"),
    1009: (Decision.NEVER, "message too big: resending it would fail again"),
    1010: (Decision.NEVER, "missing extension: the peer requires what we lack"),
    1011: (Decision.RESUME, "internal error on the server (or a keepalive timeout)"),
    1012: (Decision.RESUME, "service restart"),
    1013: (Decision.RESUME, "try again later"),
    1014: (Decision.RESUME, "bad gateway: a proxy lost the upstream"),
}
"""Close code -> what to do, and why (``docs/reliability.md`` prints this table)."""

# Handshake (HTTP) answers. 404/409 are the rtagents resume refusals
# (resume_unknown / resume_gap): the session is gone, so build a new one.
_REBUILD_STATUSES: Final = frozenset({404, 409})
_RETRY_STATUSES: Final = frozenset({408, 425, 429})
# Failures before any HTTP answer (or a timeout): the network, not our request.
NETWORK_CODES: Final = frozenset(
    {
        "timeout",
        "connection_refused",
        "connection_failed",
        "dns_failed",
        "handshake_failed",
        "response_stalled",
    }
)


def decide_close(code: int) -> tuple[Decision, str]:
    """What to do after the connection closed with ``code``."""
    known = CLOSE_CODE_POLICY.get(code)
    if known is not None:
        return known
    if 4000 <= code < 5000:
        return Decision.NEVER, f"application close code {code}: the server ended the session"
    return Decision.RESUME, f"unlisted close code {code}: treated as a dropped connection"


def decide_failure(error: BaseException) -> tuple[Decision, str]:
    """What to do after a reconnect attempt failed with ``error``."""
    status = getattr(error, "status", None)
    if isinstance(status, int):
        if status in _REBUILD_STATUSES:
            return Decision.REBUILD, f"HTTP {status}: the server cannot resume this session"
        if status in _RETRY_STATUSES or status >= 500:
            return Decision.RESUME, f"HTTP {status}: the server is busy or failing"
        return Decision.NEVER, f"HTTP {status}: the server refused the request"
    code = getattr(error, "close_code", None)
    if isinstance(code, int):
        return decide_close(code)
    if isinstance(error, ConnectionFailure) and error.code in NETWORK_CODES:
        return Decision.RESUME, f"network: {error.code}"
    if isinstance(error, OSError | TimeoutError):
        return Decision.RESUME, f"network: {type(error).__name__}"
    return Decision.NEVER, f"{type(error).__name__}: not a network failure"


def _unit_interval() -> float:
    return random.random()  # jitter, not cryptography


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectPolicy:
    """Opt-in reconnect and resume for :func:`rtagents.connect` (``reconnect=...``).

    ``max_attempts`` reconnect attempts per outage, each after a full-jitter
    delay between 0 and ``min(max_delay, base_delay·2^(n-1))`` seconds.
    ``send_queue_bytes`` bounds what the app may send while reconnecting
    (beyond it ``send`` raises a ``connection`` error: nothing is dropped
    silently); ``resend_bytes`` bounds the ring of sent frames kept for a
    resume. ``resume``: ask an rtagents server to resume (else always rebuild).
    ``rollover_margin`` seconds before the session cap (``expires_at``) the
    client moves to a fresh session at a quiet moment; None disables it.
    (The stall watchdog is ``connect(stall_timeout=...)``: it works without
    reconnect too.)
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    send_queue_bytes: int = 1 << 20
    resend_bytes: int = 16 << 20
    resume: bool = True
    rollover_margin: float | None = 120.0
    random: Callable[[], float] = field(default=_unit_interval, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("base_delay and max_delay must be >= 0 seconds")
        if self.send_queue_bytes < 0 or self.resend_bytes < 0:
            raise ValueError("send_queue_bytes and resend_bytes must be >= 0")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (1-based): full jitter."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** max(attempt - 1, 0))
        return ceiling * self.random()
