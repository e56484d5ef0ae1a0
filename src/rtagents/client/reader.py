"""The reader of one connection: every frame to the session's inbound side, until it closes.

Nothing a peer sends can stop the loop (a bug in the bookkeeping is logged
and the session goes on); only the transport closing does, and then the
session decides what that means (see ``Session.on_transport_closed``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..protocol.codec import decode_server_event
from ..protocol.errors import ConnectionFailure
from ..transports.base import ABNORMAL_CLOSURE, TransportClosed

if TYPE_CHECKING:
    from .connection import Connection
    from .inbound import Inbound

log = logging.getLogger("rtagents.client.session")


async def read_connection(
    connection: Connection,
    *,
    inbound: Inbound,
    current: Callable[[], Connection | None],
    closed: Callable[[Connection, int, str], None],
) -> None:
    """Read ``connection`` while it is ``current()``; report its close to ``closed``."""
    while True:
        try:
            raw = await connection.recv()
        except TransportClosed as exc:
            closed(connection, exc.close_code, exc.reason)
            return
        except ConnectionFailure as exc:
            closed(connection, ABNORMAL_CLOSURE, exc.message)
            return
        if connection is not current():
            return  # a connection the session moved away from (stall, rollover)
        connection.count(raw)
        try:
            inbound.ingest(decode_server_event(raw), raw)
        except Exception:  # a bug in our bookkeeping must not end the session
            log.exception("the client failed to process an event; the session goes on")
