"""The parts a session is composed of, as handed to the code that replaces its connection.

Opening, reconnect, rebuild and rollover work on the session's connection
from outside the :class:`~.session.Session` class. The session hands them
this record of its parts; they use the parts' public methods (and the
session's), never the session's private attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ending import Ending
    from .gate import ResponseGate
    from .inbound import Inbound
    from .opening import Dialer
    from .outbound import Outbound
    from .tasks import SessionTasks


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
