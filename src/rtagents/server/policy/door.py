"""The policy at a session's door: its model, and its principal's quotas.

Called where a new WebSocket session or WebRTC call is admitted, after
authentication and before the session starts; a refusal is an HTTP status
with the server's usual JSON ``error`` body, so the client sees which
setting refused it before any upgrade. With ``--redis`` the quotas are
counted across every node (``stores/redis_quotas.py``), else in this process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..auth import Refusal
from ..held_place import HeldPlace
from .quotas import QuotaBook
from .screening import model_refusal
from .table import Policy


class SharedQuotas(Protocol):
    """Quotas kept with other nodes (a ``SharedQuotaBook``)."""

    async def take(self, principal: str) -> HeldPlace: ...


class GatewayAdmission:
    """Admits new sessions under the policy; held on ``ServerState.gateway``.

    ``shared``, once set (``--redis``), counts the quotas instead of this
    process's :class:`QuotaBook`.
    """

    def __init__(
        self, policy: Policy, clock: Callable[[], float], *, quote_chars: int = 200
    ) -> None:
        self.policy = policy
        self.quotas = QuotaBook(policy, clock)
        self.shared: SharedQuotas | None = None
        self._quote_chars = quote_chars

    async def admit(self, principal: str, *models: str | None) -> HeldPlace:
        """A quota ticket for one more session of ``principal`` using ``models``.

        Raises :class:`Refusal`: 403 ``model_not_allowed`` for a model outside
        ``policy.allowed_models``, 429 for a quota (``Retry-After`` says when).
        Release the ticket when the session ends.
        """
        for model in models:
            error = model_refusal(self.policy, model, "model", self._quote_chars)
            if error is not None:
                raise Refusal(403, error.code, error.message, "model")
        if self.shared is not None:
            return await self.shared.take(principal)
        return self.quotas.take(principal)
