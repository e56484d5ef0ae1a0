"""The session config a rebuild restores: what the app asked for, less what never took effect.

Each ``session.update`` is merged in when it is sent, because a rebuild may
come before its answer and must still restore it. But it is kept apart until
the server answers: one the server refuses, or one the app stopped waiting for
(``update_session`` timed out or failed), is taken out again. Otherwise a
rebuild or rollover would apply a config the live session never had, such as
the agent of a handoff that failed.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from .rebuild import merge_config

log = logging.getLogger("rtagents.client")

MAX_PENDING = 64
"""Unanswered updates kept apart; past it the oldest counts as applied (a server that
answers nothing has bigger problems, and the ledger must stay bounded)."""


class AskedConfig:
    """Confirmed config plus the updates still waiting for ``session.updated``, in send order."""

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        self._confirmed: dict[str, Any] | None = (
            merge_config(None, initial) if initial is not None else None
        )
        self._pending: OrderedDict[str, Mapping[str, Any]] = OrderedDict()

    @property
    def current(self) -> dict[str, Any] | None:
        """What a rebuild applies: the confirmed config with every pending update over it."""
        config = self._confirmed
        for update in self._pending.values():
            config = merge_config(config, update)
        return config

    @property
    def pending(self) -> list[str]:
        """Event ids of the updates sent and not answered yet, oldest first."""
        return list(self._pending)

    def sent(self, event_id: str, update: Mapping[str, Any]) -> None:
        self._pending[event_id] = update
        while len(self._pending) > MAX_PENDING:
            oldest, _ = next(iter(self._pending.items()))
            log.debug("%d session.updates unanswered: counting %s as applied", MAX_PENDING, oldest)
            self._apply(oldest)

    def answered(self) -> None:
        """A ``session.updated`` came: it answers the oldest update still waiting."""
        if self._pending:
            self._apply(next(iter(self._pending)))

    def applied(self, event_ids: Iterable[str]) -> None:
        """These updates are in effect (a rebuild restored them with the rest)."""
        for event_id in event_ids:
            if event_id in self._pending:
                self._apply(event_id)

    def withdrawn(self, event_id: str | None) -> bool:
        """Refused by the server, or given up on by the app: it never counts. True if known."""
        return event_id is not None and self._pending.pop(event_id, None) is not None

    def _apply(self, event_id: str) -> None:
        update = self._pending.pop(event_id)
        self._confirmed = merge_config(self._confirmed, update)
