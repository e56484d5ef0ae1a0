"""The call registry: which node holds a WebRTC call, and sidebands attached on any node.

A call's media lives on the node that answered its offer, so its session
host does too. That node registers ``call:<call_id>`` (its node id) in Redis
and listens on the call's inbound channel. A sideband WebSocket for the call
may reach any node (a load balancer picks); a node that does not hold the
call finds the holder in the registry and bridges the sideband to it over
Redis pub/sub:

- ``call_in:<call_id>`` (to the holder): ``<sideband id> attach``,
  ``<sideband id> frame <client event>``, ``<sideband id> detach``;
- ``call_out:<sideband id>`` (to the bridging node): ``frame <server event>``
  or ``close <reason>`` when the call ends.

On the holder a remote sideband is one more member of the call's sidebands
(it sees every event the call emits and steers it like a local one). The
bridging node subscribes to its out channel before it asks to attach, so no
event between the two is lost; pub/sub keeps each publisher's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import TYPE_CHECKING, Any

from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from ...transports.base import NORMAL_CLOSURE, Transport, TransportClosed
from .redis_secrets import unavailable

if TYPE_CHECKING:
    from .redis_link import RedisLink

log = logging.getLogger("rtagents.server.redis")
MAX_CLOSE_REASON_BYTES = 123


class RemoteSideband:
    """A sideband attached on another node, seen by the call's node as a transport."""

    def __init__(self, node: RedisLink, sideband_id: str) -> None:
        self._node = node
        self._channel = f"{node.prefix}call_out:{sideband_id}"
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def send(self, message: str) -> None:
        if self._closed:
            raise TransportClosed(NORMAL_CLOSURE, "sideband detached")
        await self._node.redis.publish(self._channel, "frame " + message)

    async def recv(self) -> str | bytes:
        raise TransportClosed(NORMAL_CLOSURE, "a remote sideband's frames come by its channel")

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(RedisError, OSError):
            await self._node.redis.publish(self._channel, "close " + reason)


class CallRegistry:
    """This node's calls in Redis, and its bridges to calls held elsewhere."""

    def __init__(self, node: RedisLink) -> None:
        self.node = node
        self._tasks: set[asyncio.Task[Any]] = set()

    def key(self, call_id: str) -> str:
        return f"{self.node.prefix}call:{call_id}"

    def inbound(self, call_id: str) -> str:
        return f"{self.node.prefix}call_in:{call_id}"

    # --- the node that holds the call ---------------------------------------------

    def hold(self, call: Any) -> None:
        """Register ``call`` (an AnsweredCall) and serve remote sidebands until it ends."""
        task = asyncio.create_task(self._hold(call), name=f"{call.id}-registry")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hold(self, call: Any) -> None:
        redis = self.node.redis
        ttl = int(self.node.config.session_cap_s + self.node.config.call_connect_timeout_s) + 1
        pubsub = redis.pubsub()
        remotes: dict[str, RemoteSideband] = {}
        try:
            await pubsub.subscribe(self.inbound(call.id))
            await redis.set(self.key(call.id), self.node.node_id, ex=ttl)
            ended = asyncio.ensure_future(call.ended.wait())
            try:
                while not ended.done():
                    message = await _next_message(pubsub, ended)
                    if message is not None:
                        await self._on_inbound(call, message, remotes)
            finally:
                ended.cancel()
        except (RedisError, OSError) as exc:
            log.error("the call registry failed for %s: %s", call.id, exc)
        finally:
            reason = f"call ended: {call.end_reason or 'closed'}"
            reason = reason.encode()[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")
            for remote in remotes.values():
                await remote.close(NORMAL_CLOSURE, reason)
            with contextlib.suppress(RedisError, OSError):
                await redis.delete(self.key(call.id))
                await pubsub.aclose()

    async def _on_inbound(self, call: Any, text: str, remotes: dict[str, RemoteSideband]) -> None:
        sideband_id, _, rest = text.partition(" ")
        kind, _, payload = rest.partition(" ")
        target = call.transport
        if kind == "attach":
            remote = remotes[sideband_id] = RemoteSideband(self.node, sideband_id)
            if not call.connected.is_set():  # attached right after the offer: wait for it
                with contextlib.suppress(TimeoutError):
                    limit = self.node.config.call_connect_timeout_s
                    await asyncio.wait_for(call.connected.wait(), limit)
                target = call.transport
            if target is None or target.closed:
                await remote.close(NORMAL_CLOSURE, "call ended: not connected")
                return
            target.sidebands.add(remote)
        elif kind == "frame" and sideband_id in remotes and target is not None:
            target.deliver_from_sideband(payload)
        elif kind == "detach" and sideband_id in remotes:
            detached = remotes.pop(sideband_id)
            if target is not None:
                target.sidebands.discard(detached)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- a node the sideband reached --------------------------------------------------

    async def holder(self, call_id: str) -> str | None:
        """The live node holding ``call_id``, if any does."""
        try:
            node_id = await self.node.redis.get(self.key(call_id))
            if node_id is None:
                return None
            text = node_id.decode() if isinstance(node_id, bytes) else str(node_id)
            return text if await self.node.alive(text) else None
        except (RedisError, OSError) as exc:
            raise unavailable(exc) from exc

    async def bridge(self, sideband: Transport, call_id: str) -> None:
        """Relay ``sideband`` (accepted here) to the node holding the call, until either ends."""
        sideband_id = "sb_" + secrets.token_hex(8)
        redis = self.node.redis
        pubsub = redis.pubsub()
        inbound = self.inbound(call_id)
        forward: asyncio.Task[None] | None = None
        try:
            await pubsub.subscribe(f"{self.node.prefix}call_out:{sideband_id}")
            forward = asyncio.create_task(_forward(pubsub, sideband), name=f"{call_id}-bridge")
            await redis.publish(inbound, f"{sideband_id} attach")
            while not forward.done():
                receiving = asyncio.ensure_future(sideband.recv())
                await asyncio.wait({receiving, forward}, return_when=asyncio.FIRST_COMPLETED)
                if not receiving.done():
                    receiving.cancel()
                    await asyncio.gather(receiving, return_exceptions=True)
                    break
                message = receiving.result()
                text = message if isinstance(message, str) else message.decode(errors="replace")
                await redis.publish(inbound, f"{sideband_id} frame {text}")
        except (TransportClosed, RedisError, OSError) as exc:
            if not isinstance(exc, TransportClosed):
                log.error("bridging a sideband to call %s failed: %s", call_id, exc)
        finally:
            if forward is not None:
                forward.cancel()
                await asyncio.gather(forward, return_exceptions=True)
            with contextlib.suppress(RedisError, OSError):
                await redis.publish(inbound, f"{sideband_id} detach")
                await pubsub.aclose()
            await sideband.close(NORMAL_CLOSURE, "")


async def _next_message(pubsub: PubSub, ended: asyncio.Future[Any]) -> str | None:
    """The next message on ``pubsub``, or None once ``ended`` (checked every 100 ms)."""
    while not ended.done():
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is not None and message.get("type") == "message":
            data = message["data"]
            return data.decode() if isinstance(data, bytes) else str(data)
    return None


async def _forward(pubsub: PubSub, sideband: Transport) -> None:
    """The call's events to the sideband, until the call's node says it ended."""
    while True:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        if message is None or message.get("type") != "message":
            continue
        data = message["data"]
        text = data.decode() if isinstance(data, bytes) else str(data)
        kind, _, payload = text.partition(" ")
        if kind == "close":
            await sideband.close(NORMAL_CLOSURE, payload)
            return
        await sideband.send(payload)
