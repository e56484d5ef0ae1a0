"""Client secrets and mint rates in Redis, shared by every node that uses the same Redis.

A secret minted on one node is valid on all of them, with its bound config,
its minter, its expiry (the key expires with the secret) and its
session count (``HINCRBY`` on the secret's hash, so ``sessions_per_secret``
holds across nodes). The store is bounded like the in-memory one, in count and
in config bytes, by an index of live secrets (a sorted set by expiry) that
each mint purges first; a mint and its bound check are one Lua script, so two
nodes minting at once cannot both take the last slot.

Keys are named by the secret's random id, never by the secret itself; the
stored value is compared in full on every lookup.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..auth import Refusal
from .client_secrets import IssuedSecret, StoreFull, secret_ident
from .mint_rate import RateLimited

log = logging.getLogger("rtagents.server.redis")

# What a mint refused by Redis itself (out of memory) is told to wait.
RETRY_AFTER_REFUSED_S = 5

# KEYS: secret hash, index zset, bytes counter. ARGV: now, expires_at, value json, size,
# max count, max bytes, member, seconds to live. Returns {0} stored, or {1, why, soonest expiry}.
_PUT = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, 256)
for i = 1, #expired, 2 do
  local size = tonumber(string.match(expired[i], '^(%d+):')) or 0
  redis.call('ZREM', KEYS[2], expired[i])
  redis.call('DECRBY', KEYS[3], size)
end
local count = redis.call('ZCARD', KEYS[2])
local bytes = tonumber(redis.call('GET', KEYS[3]) or '0')
local soonest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2] or ARGV[1]
if count + 1 > tonumber(ARGV[5]) then return {1, 'count:' .. count, soonest} end
if bytes + tonumber(ARGV[4]) > tonumber(ARGV[6]) then
  return {1, 'bytes:' .. bytes, soonest}
end
redis.call('HSET', KEYS[1], 'secret', ARGV[3], 'sessions', 0)
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[7])
redis.call('INCRBY', KEYS[3], ARGV[4])
return {0}
"""

# KEYS: secret hash. ARGV: the value. The count after this session; a forgotten
# secret keeps no count behind (as in memory).
_OPEN = """
local stored = redis.call('HGET', KEYS[1], 'secret')
if not stored then return 1 end
if cjson.decode(stored)['value'] ~= ARGV[1] then return 1 end
return redis.call('HINCRBY', KEYS[1], 'sessions', 1)
"""

# A token bucket per minter. KEYS: bucket hash. ARGV: now, per_minute.
# Returns 0 (taken) or the seconds to wait, as a string (Lua numbers lose fractions).
_TAKE = """
local rate = tonumber(ARGV[2]) / 60.0
local now = tonumber(ARGV[1])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or ARGV[2])
local updated = tonumber(redis.call('HGET', KEYS[1], 'updated') or ARGV[1])
tokens = math.min(tonumber(ARGV[2]), tokens + math.max(0, now - updated) * rate)
if tokens < 1.0 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', ARGV[1])
  redis.call('EXPIRE', KEYS[1], 61)
  return tostring((1.0 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1.0), 'updated', ARGV[1])
redis.call('EXPIRE', KEYS[1], 61)
return '0'
"""


class RedisSecretStore:
    """:class:`~.client_secrets.SecretStore` in Redis; ``prefix`` separates deployments."""

    def __init__(
        self,
        redis: Redis,
        clock: Callable[[], float],
        *,
        prefix: str = "rtagents:",
        max_secrets: int = 10_000,
        max_bytes: int = 64 * 2**20,
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._prefix = prefix
        self.max_secrets = max_secrets
        self.max_bytes = max_bytes
        self._put = redis.register_script(_PUT)
        self._open = redis.register_script(_OPEN)

    def _key(self, value: str) -> str:
        return f"{self._prefix}secret:{secret_ident(value)}"

    async def put(self, secret: IssuedSecret) -> None:
        record = json.dumps(_record(secret), separators=(",", ":"))
        member = f"{secret.size}:{secret_ident(secret.value)}"
        keys = [self._key(secret.value), self._prefix + "secrets", self._prefix + "secret_bytes"]
        now = self._clock()
        args: list[Any] = [now, secret.expires_at, record, secret.size]
        # Relative expiry: the node's clock, not Redis's, says when a secret expires.
        args += [
            self.max_secrets,
            self.max_bytes,
            member,
            max(1, math.ceil(secret.expires_at - now)),
        ]
        try:
            answer: list[Any] = await self._put(keys=keys, args=args)
        except (RedisError, OSError) as exc:  # OOM at maxmemory, or Redis unreachable
            raise StoreFull(
                f"The shared client secret store (Redis) could not store the secret: {exc}. "
                "Retry later; the operator should check Redis (reachable, maxmemory).",
                RETRY_AFTER_REFUSED_S,
            ) from exc
        if int(answer[0]) == 0:
            return
        kind, _, held = _text(answer[1]).partition(":")
        retry_after = max(1, math.ceil(float(answer[2]) - now))
        why = (
            f"it holds {held} secrets (limits.stored_secrets)"
            if kind == "count"
            else f"their session configs take {held} of {self.max_bytes} bytes and this one "
            f"needs {secret.size} (limits.stored_secrets_bytes)"
        )
        raise StoreFull(
            f"The shared client secret store is full: {why}. Secrets free their room when "
            f"they expire; the soonest does in {retry_after} s. Retry then, or mint secrets "
            "with shorter expires_after.seconds.",
            retry_after,
        )

    async def get(self, value: str) -> IssuedSecret | None:
        try:
            stored = await self._redis.hget(self._key(value), "secret")
        except (RedisError, OSError) as exc:
            raise unavailable(exc) from exc
        if stored is None:
            return None
        data = json.loads(stored)
        if data.get("value") != value:
            return None
        return IssuedSecret(
            value=data["value"],
            created_at=float(data["created_at"]),
            expires_at=int(data["expires_at"]),
            session=data["session"],
            minted_by=data["minted_by"],
            size=int(data["size"]),
        )

    async def open_session(self, value: str) -> int:
        try:
            count = await self._open(keys=[self._key(value)], args=[value])
        except (RedisError, OSError) as exc:
            raise unavailable(exc) from exc
        return int(count)


class RedisMintRate:
    """The mint rate of :class:`~.mint_rate.MintRateLimiter`, counted across every node.

    One bucket per minter in Redis, refilled and taken in one script; a bucket
    idle for a minute is full again and expires, so idle minters cost nothing.
    """

    def __init__(
        self,
        redis: Redis,
        clock: Callable[[], float],
        per_minute: int,
        *,
        prefix: str = "rtagents:",
    ) -> None:
        self._clock = clock
        self.per_minute = per_minute
        self._prefix = prefix
        self._take = redis.register_script(_TAKE)

    async def take(self, minter: str) -> None:
        """Count one mint for ``minter``, or raise :class:`RateLimited` saying when to retry."""
        key = f"{self._prefix}mint_rate:{minter}"
        try:
            answer = await self._take(keys=[key], args=[self._clock(), self.per_minute])
        except (RedisError, OSError) as exc:
            # Fails open: the mint itself needs Redis and is refused (503) if it is down.
            log.warning("the shared mint rate cannot be checked: %s", exc)
            return
        wait = float(_text(answer))
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise RateLimited(
                f"Too many client secrets minted: at most {self.per_minute} per minute per "
                f"API key or console client (limits.mints_per_minute), counted across every "
                f"server sharing this Redis. Retry in {retry_after} s.",
                retry_after,
            )


def unavailable(exc: BaseException) -> Refusal:
    """A request that needs the shared Redis while it fails: 503, retry (never a crash)."""
    return Refusal(
        503,
        "shared_state_unavailable",
        f"The server cannot reach the state its nodes share (Redis): {exc}. Retry shortly.",
        headers={"Retry-After": str(RETRY_AFTER_REFUSED_S)},
    )


def _record(secret: IssuedSecret) -> dict[str, Any]:
    return {
        "value": secret.value,
        "created_at": secret.created_at,
        "expires_at": secret.expires_at,
        "session": dict(secret.session),
        "minted_by": secret.minted_by,
        "size": secret.size,
    }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
