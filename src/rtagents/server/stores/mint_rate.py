"""How many secrets one principal may mint per minute: a token bucket per minter.

Minting stores a session config for up to two hours, so a flood of mints is a
flood of memory; the store's own bound stops it, but then for everyone. This
bound is per minter (the API key, or one console client address), so one
noisy caller is told to wait (HTTP 429 with ``Retry-After``) while the others
go on. Buckets refill continuously at ``per_minute / 60`` per second up to
``per_minute``; a full bucket is forgotten, and the number of buckets is
itself bounded (:data:`MAX_MINTERS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

# Minters tracked at once; only the console's loopback clients (one address
# each) can be many. Past it, buckets idle a minute (full again) are dropped,
# and a new minter waits while all are busy.
MAX_MINTERS = 4096


class RateLimited(Exception):
    """A minter is over its rate; ``retry_after_s`` until it may mint one more."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class MintRateLimiter:
    """Token buckets by minter, on an injected clock (tests use a FakeClock)."""

    def __init__(
        self, clock: Callable[[], float], per_minute: int, max_minters: int = MAX_MINTERS
    ) -> None:
        self._clock = clock
        self.per_minute = per_minute
        self.max_minters = max_minters
        self._buckets: dict[str, _Bucket] = {}

    def take(self, minter: str) -> None:
        """Count one mint for ``minter``, or raise :class:`RateLimited` saying when to retry."""
        now = self._clock()
        bucket = self._buckets.get(minter)
        if bucket is None:
            bucket = self._new_bucket(minter, now)
        rate = self.per_minute / 60.0
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            retry_after = max(1, math.ceil((1.0 - bucket.tokens) / rate))
            raise RateLimited(
                f"Too many client secrets minted: at most {self.per_minute} per minute per "
                f"API key or console client (limits.mints_per_minute). Retry in {retry_after} s.",
                retry_after,
            )
        bucket.tokens -= 1.0

    def _new_bucket(self, minter: str, now: float) -> _Bucket:
        if len(self._buckets) >= self.max_minters:
            self._forget_idle(now)
        if len(self._buckets) >= self.max_minters:
            raise RateLimited(
                f"Too many different clients are minting client secrets at once (more than "
                f"{self.max_minters} within a minute). Retry in 60 s.",
                60,
            )
        bucket = _Bucket(tokens=float(self.per_minute), updated=now)
        self._buckets[minter] = bucket
        return bucket

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled (idle a minute): they hold nothing to remember."""
        idle = [key for key, b in self._buckets.items() if now - b.updated >= 60.0]
        for key in idle:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
