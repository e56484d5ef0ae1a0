"""What the shared registries use of a node's link to Redis (:class:`~.redis_node.RedisNode`).

A protocol of its own so the registries (resume, calls) and the node that
owns them do not import each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from redis.asyncio import Redis

if TYPE_CHECKING:
    from ..config import ServerConfig


class RedisLink(Protocol):
    """A node in a group sharing one Redis."""

    @property
    def redis(self) -> Redis: ...

    @property
    def prefix(self) -> str: ...

    @property
    def node_id(self) -> str: ...

    @property
    def ttl_s(self) -> float: ...

    @property
    def config(self) -> ServerConfig: ...

    def node_key(self, node_id: str) -> str: ...

    async def alive(self, node_id: str) -> bool: ...
