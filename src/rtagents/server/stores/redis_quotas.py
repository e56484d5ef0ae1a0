"""Per-key quotas counted across every node that shares one Redis (``serve --redis``).

The in-memory :class:`~rtagents.server.policy.quotas.QuotaBook` counts one
process's sessions, so with ``--workers N`` (or N nodes) a principal could
hold N times ``policy.concurrent_sessions``. Here the counts live in Redis:

- **open sessions**: a hash per principal with one field per node, that
  node's count of the principal's open sessions. A node adds one when it
  admits a session and takes one off when the session ends. The field of a
  node whose liveness key has expired (it died, or stopped) is dropped by the
  next admission that counts, so a crash gives its places back within
  ``redis_node_ttl_s``;
- **starts**: a sorted set per principal of the times its sessions were
  admitted, trimmed to ``policy.quota_window_s`` at each admission.

One Lua script checks both and takes the place, so two nodes admitting at
once cannot both take the last place. Times come from the node's clock, as
the shared mint rate's do: nodes keep their clocks in step (NTP).

While Redis fails, a node counts its own sessions against
``concurrent_sessions`` (the quota then holds per node, as without Redis)
and admits without the window (as the mint rate does), saying so once; it
asks Redis again at most once every ``REFRESH_S``, so a Redis that hangs
delays one admission in that time, not each of them. Every
``REFRESH_S`` it writes its counts again: that repairs what a failed write
missed and keeps the hashes of long sessions from expiring.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from redis.exceptions import RedisError

from ..policy.quotas import QuotaTicket, concurrent_refusal, window_refusal
from ..policy.table import Policy
from .redis_link import RedisLink

log = logging.getLogger("rtagents.server.redis")

REFRESH_S = 10.0  # how often a node writes its open counts again
OPEN_TTL_S = 6 * REFRESH_S  # a hash no live node refreshes is gone after this
CLOSE_S = 2.0  # the longest a stopping node waits for its last releases
# Principals a node keeps to write again while Redis fails. Past it, those with no
# session here are forgotten: their fields expire OPEN_TTL_S after their last write
# (unless another node keeps the hash alive), and the memory stays bounded.
MAX_STALE = 10_000

# KEYS: open hash, starts zset. ARGV: node, node key prefix, concurrent limit, window
# limit, window (s), now (s), a member naming this start, the open hash's ttl (ms), this
# node's open count (its own field is written from it, not read: a release here counts
# at once). Returns {0} (taken), {1, held} (concurrent quota) or {2, count, seconds until
# a start leaves the window, as text: Lua numbers lose their fractions on the way out}.
_TAKE = """
local node = ARGV[1]
local concurrent = tonumber(ARGV[3])
local per_window = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local now = tonumber(ARGV[6])
local here = tonumber(ARGV[9])
if concurrent > 0 then
  local held = here
  local fields = redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    local other = fields[i]
    if other ~= node then
      if redis.call('EXISTS', ARGV[2] .. other) == 0 then
        redis.call('HDEL', KEYS[1], other)
      else
        held = held + tonumber(fields[i + 1])
      end
    end
  end
  if held >= concurrent then return {1, held} end
end
if per_window > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tostring(now - window))
  local count = redis.call('ZCARD', KEYS[2])
  if count >= per_window then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {2, count, tostring(tonumber(oldest[2]) + window - now)}
  end
  redis.call('ZADD', KEYS[2], tostring(now), ARGV[7])
  redis.call('EXPIRE', KEYS[2], math.ceil(window) + 1)
end
if concurrent > 0 then
  redis.call('HSET', KEYS[1], node, here + 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
end
return {0}
"""


class SharedQuotaBook:
    """The gateway policy's quotas for one node (``link``), counted in Redis with the others.

    Each write of this node's counts happens under one lock, so what Redis
    holds for this node is always what the node last counted.
    """

    def __init__(self, link: RedisLink, policy: Policy) -> None:
        self.policy = policy
        self.node_id = link.node_id
        self._redis = link.redis
        self._clock = link.config.clock
        self._node_prefix = link.node_key("")
        self._prefix = link.prefix
        self._take = self._redis.register_script(_TAKE)
        self._serial = itertools.count()
        self._open_here: dict[str, int] = {}
        # Principals whose field in Redis may differ from ``_open_here``: released here
        # and not written yet, or a write that failed.
        self._stale: set[str] = set()
        self._writing = asyncio.Lock()
        self._watchers: set[asyncio.Task[None]] = set()  # HeldPlace.release_when's
        self._releases: set[asyncio.Task[None]] = set()
        self._refresher: asyncio.Task[None] | None = None
        self._failing = False
        self._retry_at = 0.0  # loop time before which a failing Redis is not asked again

    @property
    def active(self) -> bool:
        return bool(self.policy.sessions_per_window or self.policy.concurrent_sessions)

    def open_here(self, principal: str) -> int:
        """The principal's sessions open on this node."""
        return self._open_here.get(principal, 0)

    def open_key(self, principal: str) -> str:
        return f"{self._prefix}quota:open:{principal}"

    def starts_key(self, principal: str) -> str:
        return f"{self._prefix}quota:starts:{principal}"

    async def take(self, principal: str) -> QuotaTicket:
        """A ticket for one more session of ``principal``, or :class:`Refusal` 429 saying which
        quota, counted over every node."""
        ticket = QuotaTicket(self._watchers, self._give_back, principal)
        if not self.active:
            return ticket
        self._start_refreshing()
        keys = [self.open_key(principal), self.starts_key(principal)]
        async with self._writing:
            if self._failing and asyncio.get_running_loop().time() < self._retry_at:
                self._on_your_own(principal)  # Redis is tried again once every REFRESH_S
            else:
                await self._shared_take(principal, keys)
            if self.policy.concurrent_sessions:
                self._open_here[principal] = self.open_here(principal) + 1
        ticket.held = True
        return ticket

    async def _shared_take(self, principal: str, keys: list[str]) -> None:
        """Run the script that counts and takes the place (under the lock)."""
        try:
            answer = await self._take(keys=keys, args=self._take_args(principal))
        except (RedisError, OSError) as exc:
            self._say_failing(exc)
            self._on_your_own(principal)
        except BaseException:  # cancelled waiting: the script may have run all the same
            self._write_soon(principal)  # so the count here is written again
            raise
        else:
            self._refuse_if_over(principal, answer)
            self._stale.discard(principal)  # its field was just set to the count below

    async def settle(self, timeout_s: float = CLOSE_S) -> None:
        """Wait (at most ``timeout_s``) until the releases under way are written."""
        if self._releases:
            await asyncio.wait(set(self._releases), timeout=timeout_s)

    async def close(self) -> None:
        """Stop refreshing and wait (briefly) for the releases under way."""
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.wait({self._refresher}, timeout=CLOSE_S)
        await self.settle()

    async def refresh(self) -> None:
        """Write this node's counts again (those Redis may have wrong, and every held one)."""
        async with self._writing:
            await self._write(self._stale | self._open_here.keys())

    # --- inside --------------------------------------------------------------------------

    def _take_args(self, principal: str) -> list[Any]:
        policy = self.policy
        member = f"{self.node_id}:{next(self._serial)}"
        return [
            self.node_id,
            self._node_prefix,
            policy.concurrent_sessions,
            policy.sessions_per_window,
            policy.quota_window_s,
            self._clock(),
            member,
            int(OPEN_TTL_S * 1000),
            self.open_here(principal),
        ]

    def _refuse_if_over(self, principal: str, answer: list[Any]) -> None:
        verdict = int(answer[0])
        if verdict == 1:
            held = int(answer[1])
            raise concurrent_refusal(principal, held, self.policy.concurrent_sessions, shared=True)
        if verdict == 2:
            frees_in = float(answer[2])  # text (bytes): float reads both
            raise window_refusal(principal, int(answer[1]), self.policy, frees_in, shared=True)

    def _on_your_own(self, principal: str) -> None:
        """Redis fails: count against this node's own sessions, and write them later."""
        self._mark_stale(principal)
        limit = self.policy.concurrent_sessions
        if limit and self.open_here(principal) >= limit:
            raise concurrent_refusal(principal, self.open_here(principal), limit)

    def _mark_stale(self, principal: str) -> None:
        self._stale.add(principal)
        if len(self._stale) > MAX_STALE:
            self._stale = {p for p in self._stale if p in self._open_here}

    def _say_failing(self, exc: BaseException) -> None:
        self._retry_at = asyncio.get_running_loop().time() + REFRESH_S
        if not self._failing:
            log.error(
                "cannot count quotas in Redis (%s): this node counts its own sessions until "
                "Redis answers (policy.concurrent_sessions per node; no session window)",
                exc,
            )
        self._failing = True

    def _give_back(self, principal: str) -> None:
        """One session ended: counted here at once, written to Redis by a task."""
        if not self.policy.concurrent_sessions:
            return  # nothing counted: a window start stays in the window
        left = self.open_here(principal) - 1
        if left > 0:
            self._open_here[principal] = left
        else:
            self._open_here.pop(principal, None)
        self._write_soon(principal)

    def _write_soon(self, principal: str) -> None:
        """Write the principal's count here to Redis from a task (it may differ there now)."""
        self._mark_stale(principal)
        if self._failing:
            return  # the refresh writes it once Redis answers: no task piles up meanwhile
        task = asyncio.get_running_loop().create_task(
            self._written(principal), name="rtagents-quota-write"
        )
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _written(self, principal: str) -> None:
        async with self._writing:
            if principal in self._stale:  # else a write since did it
                await self._write({principal})

    async def _write(self, principals: set[str]) -> None:
        """Set this node's field of each principal to its count here (under the lock)."""
        if not principals:
            return
        pipe = self._redis.pipeline(transaction=False)
        for principal in principals:
            key, count = self.open_key(principal), self.open_here(principal)
            if count:
                pipe.hset(key, self.node_id, count)
                pipe.pexpire(key, int(OPEN_TTL_S * 1000))
            else:
                pipe.hdel(key, self.node_id)
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            self._say_failing(exc)
            for principal in principals:
                self._mark_stale(principal)
            return
        self._stale -= principals
        if self._failing:
            log.warning("Redis answers again; this node's quota counts are shared again")
        self._failing = False

    def _start_refreshing(self) -> None:
        if self._refresher is None and self.policy.concurrent_sessions:
            self._refresher = asyncio.get_running_loop().create_task(
                self._refresh_forever(), name="rtagents-quota-refresh"
            )

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            await self.refresh()
