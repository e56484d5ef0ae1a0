"""The session config the downstream client asked for, as a rebuilt upstream must restore it.

The initial config (a secret's bound session, when there is one) merged with
every ``session.update`` the client sent, less those the upstream refused
(its ``error`` names the update's ``event_id``). The upstream answers updates
in order, so a ``session.updated`` settles the oldest one still pending.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ...protocol.item_replay import merge_config

# Updates awaiting the upstream's answer; more means the upstream stopped answering.
MAX_PENDING = 256


class UpstreamAskedConfig:
    """The merged config, with updates the upstream has not answered yet kept apart."""

    def __init__(self, initial: Mapping[str, Any] | None) -> None:
        self._settled: dict[str, Any] = dict(initial or {})
        self._pending: OrderedDict[str, dict[str, Any]] = OrderedDict()

    @property
    def current(self) -> dict[str, Any]:
        """What to replay: settled updates, then pending ones (they were sent, not refused)."""
        merged = self._settled
        for update in self._pending.values():
            merged = merge_config(merged, update)
        return merged

    def sent(self, event_id: str, update: Mapping[str, Any]) -> None:
        self._pending[event_id] = dict(update)
        while len(self._pending) > MAX_PENDING:
            self._settle_oldest()

    def refused(self, event_id: str | None) -> bool:
        """The upstream refused the update ``event_id``: it is dropped; True if it was one."""
        return event_id is not None and self._pending.pop(event_id, None) is not None

    def confirmed(self) -> None:
        """A ``session.updated``: the oldest pending update took effect."""
        if self._pending:
            self._settle_oldest()

    def _settle_oldest(self) -> None:
        _, update = self._pending.popitem(last=False)
        self._settled = merge_config(self._settled, update)
