"""The in-process secret store: bounded in count and in config bytes, expired ones purged.

Each stored secret keeps its session config (instructions and tools can make
it large) until it expires, up to two hours, so the store is bounded twice:
by how many secrets it holds and by the bytes of their configs. Expired
secrets are purged first (soonest expiry first, from a heap, so a mint costs
O(log n)); if there is still no room the mint is refused with
:class:`StoreFull`, which says when the soonest secret expires.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

from .client_secrets import IssuedSecret, StoreFull


class InMemorySecretStore:
    """Secrets of this process by value, with their session counts; bounded."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        max_secrets: int = 10_000,
        max_bytes: int = 64 * 2**20,
    ) -> None:
        self._clock = clock
        self.max_secrets = max_secrets
        self.max_bytes = max_bytes
        self._secrets: dict[str, IssuedSecret] = {}
        self._sessions: dict[str, int] = {}
        self._expiry: list[tuple[int, str]] = []  # (expires_at, value), a min-heap
        self.bytes = 0

    async def put(self, secret: IssuedSecret) -> None:
        self.purge()
        if len(self._secrets) + 1 > self.max_secrets:
            raise self._full(f"it holds {len(self._secrets)} secrets (limits.stored_secrets)")
        if self.bytes + secret.size > self.max_bytes:
            raise self._full(
                f"their session configs take {self.bytes} of {self.max_bytes} bytes and this "
                f"one needs {secret.size} (limits.stored_secrets_bytes)"
            )
        self._secrets[secret.value] = secret
        self.bytes += secret.size
        heapq.heappush(self._expiry, (secret.expires_at, secret.value))

    async def get(self, value: str) -> IssuedSecret | None:
        return self._secrets.get(value)

    async def open_session(self, value: str) -> int:
        count = self._sessions.get(value, 0) + 1
        if value in self._secrets:  # a forgotten secret keeps no count behind
            self._sessions[value] = count
        return count

    def purge(self) -> None:
        """Forget every secret that has expired."""
        now = self._clock()
        while self._expiry and self._expiry[0][0] <= now:
            _, value = heapq.heappop(self._expiry)
            secret = self._secrets.pop(value, None)
            if secret is not None:
                self.bytes -= secret.size
            self._sessions.pop(value, None)

    def _full(self, why: str) -> StoreFull:
        soonest = self._expiry[0][0] if self._expiry else self._clock()
        retry_after = max(1, math.ceil(soonest - self._clock()))
        return StoreFull(
            f"The client secret store is full: {why}. Secrets free their room when they "
            f"expire; the soonest does in {retry_after} s. Retry then, or mint secrets with "
            "shorter expires_after.seconds.",
            retry_after,
        )

    def __len__(self) -> int:
        return len(self._secrets)
