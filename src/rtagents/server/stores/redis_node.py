"""One node's link to the shared Redis (``rtagents serve --redis URL``).

Everything nodes share goes through here: the client secret store and the
mint rate (``redis_secrets.py``), the resume registry and logs
(``redis_resume.py``), the key that signs secrets (created once by whichever
node starts first, ``SET NX``, so a secret minted anywhere verifies
everywhere), and this node's liveness: a key that expires unless the node
renews it, which is how another node knows a session's owner died and it may
take the session over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.exceptions import RedisError

from . import SharedStateUnavailable
from .redis_calls import CallRegistry
from .redis_quotas import SharedQuotaBook
from .redis_resume import SharedResumeRegistry
from .redis_secrets import RedisMintRate, RedisSecretStore

if TYPE_CHECKING:
    from ..config import ServerConfig
    from .client_secrets import SecretIssuer

log = logging.getLogger("rtagents.server.redis")

PREFIX = "rtagents:"
CLOSE_S = 2.0  # the longest a stopping node waits for each Redis step
SOCKET_TIMEOUT_S = 5.0


class RedisNode:
    """This server process as one node of a group sharing ``url``."""

    def __init__(self, url: str, config: ServerConfig, *, prefix: str = PREFIX) -> None:
        self.url = url
        self.config = config
        self.prefix = prefix
        # Timeouts: a Redis that hangs (rather than refuses) must surface as an error
        # (503, a log that stops) instead of stalling sessions on it forever.
        self.redis: Redis = Redis.from_url(
            url, socket_connect_timeout=SOCKET_TIMEOUT_S, socket_timeout=SOCKET_TIMEOUT_S
        )
        self.node_id = "node_" + secrets.token_hex(8)
        self.ttl_s = config.redis_node_ttl_s
        self._heartbeat: asyncio.Task[None] | None = None
        self._stopping = False  # the heartbeat's own stop: redis-py may swallow a cancel
        # Which node holds each WebRTC call; sidebands bridged to it (``redis_calls.py``).
        self.calls = CallRegistry(self)
        self.resumes = SharedResumeRegistry(self)
        # The gateway policy's quotas, counted with the other nodes (``redis_quotas.py``).
        self.quotas = SharedQuotaBook(self, config.policy)

    def node_key(self, node_id: str) -> str:
        return f"{self.prefix}node:{node_id}"

    def secret_store(self) -> RedisSecretStore:
        limits = self.config.limits
        return RedisSecretStore(
            self.redis,
            self.config.clock,
            prefix=self.prefix,
            max_secrets=limits.stored_secrets,
            max_bytes=limits.stored_secrets_bytes,
        )

    def mint_rate(self) -> RedisMintRate:
        return RedisMintRate(
            self.redis, self.config.clock, self.config.limits.mints_per_minute, prefix=self.prefix
        )

    def resume_registry(self) -> SharedResumeRegistry:
        return self.resumes

    async def start(self, issuer: SecretIssuer) -> None:
        """Agree on the signing key and start renewing this node's liveness."""
        key_name = self.prefix + "secret_signing_key"
        try:
            await self.redis.set(key_name, self.config.secret_signing_key, nx=True)
            shared = await self.redis.get(key_name)
            await self._renew()
        except (RedisError, OSError) as exc:
            await self.redis.aclose()
            raise SharedStateUnavailable(
                f"cannot use Redis at {self.url} (--redis): {exc}. Start it, or check the URL "
                "(redis://host:port/db); without --redis the server keeps its state in memory."
            ) from exc
        if isinstance(shared, bytes):
            issuer.rekey(shared)
        self._heartbeat = asyncio.create_task(self._beat(), name="rtagents-redis-heartbeat")
        log.info("sharing state through Redis as %s", self.node_id, extra={"node": self.node_id})

    async def alive(self, node_id: str) -> bool:
        return bool(await self.redis.exists(self.node_key(node_id)))

    async def close(self) -> None:
        await self.calls.close()
        await self.quotas.close()  # the last releases, before the liveness key goes
        await self.resumes.settle()  # the last sessions' keys, before the connection goes
        self._stopping = True
        if self._heartbeat is not None:
            # A cancel that lands inside a Redis call can be swallowed there; the flag
            # ends the loop anyway, and the wait is bounded (a stopping node never hangs).
            self._heartbeat.cancel()
            await asyncio.wait({self._heartbeat}, timeout=CLOSE_S)
        # A stopping node never waits long on Redis: its liveness key expires anyway.
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await asyncio.wait_for(self.redis.delete(self.node_key(self.node_id)), CLOSE_S)
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await asyncio.wait_for(self.redis.aclose(), CLOSE_S)

    async def _renew(self) -> None:
        await self.redis.set(self.node_key(self.node_id), "1", px=int(self.ttl_s * 1000))

    async def _beat(self) -> None:
        failing = False  # said once per outage, not every beat
        while not self._stopping:
            await asyncio.sleep(self.ttl_s / 4)
            try:
                await self._renew()
            except (RedisError, OSError) as exc:
                if not failing:
                    log.error("cannot renew this node's liveness in Redis: %s", exc)
                failing = True
                continue
            if failing:
                log.warning("Redis answers again; this node is live again")
            failing = False
