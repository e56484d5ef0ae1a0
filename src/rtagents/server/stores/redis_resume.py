"""Resume across nodes: the registry that mirrors tokens and logs into Redis.

A resumable session on a node with ``--redis`` has, in Redis, a hash
(``resume:<session id>``: owner, owning node, current and previous token,
client frames handled), a key per live token naming the session, and its
frame log (``redis_resume_log.py``). A resume that reaches a node which does
not hold the session finds it there; once the owning node is dead (its
liveness key expired) the node takes the session over
(``redis_takeover.py``). Everything expires with the session's cap plus its
grace window, so a dead node leaves nothing behind for long.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from ..host.backend import ReceivedEvent
from ..host.session_resume import FrameLog, Resumable, ResumableHost, ResumeRegistry
from .redis_resume_log import APPEND, SharedFrameLog

if TYPE_CHECKING:
    from .redis_link import RedisLink

log = logging.getLogger("rtagents.server.redis")

# KEYS: session hash. ARGV: node. Deletes the session's keys if this node owns it.
_FORGET = """
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
for i = 2, #ARGV do redis.call('DEL', ARGV[i]) end
return 1
"""

# KEYS: session hash. ARGV: node. Clears the owner if it is this node (a hand-off).
_RELEASE = """
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'node', '')
return 1
"""


class MirroredFrameLog(FrameLog):
    """The in-memory log (replays on this node), each frame also queued to Redis."""

    def __init__(self, limit_bytes: int, shared: SharedFrameLog) -> None:
        super().__init__(limit_bytes)
        self.shared = shared

    def append(self, text: str) -> int:
        seq = super().append(text)
        self.shared.append(seq, text)
        return seq


class HandledFrames:
    """An observer counting the client frames the host finished handling (for the log)."""

    def __init__(self, host: Any, shared: SharedFrameLog) -> None:
        self._host = host
        self._shared = shared

    def on_sent(self, event: Any, error: Any) -> None:
        pass

    def on_received(self, inbound: ReceivedEvent) -> None:
        if isinstance(self._host.frame, str):  # binary frames are not counted by resume
            self._shared.frame_handled()


class SharedResumeRegistry(ResumeRegistry):
    """:class:`ResumeRegistry` whose sessions are also known to every node through Redis."""

    def __init__(self, node: RedisLink) -> None:
        super().__init__()
        self.node = node
        redis = node.redis
        self._append = redis.register_script(APPEND)
        self._forget = redis.register_script(_FORGET)
        self._release = redis.register_script(_RELEASE)
        self._tasks: set[asyncio.Task[Any]] = set()

    def session_key(self, session_id: str) -> str:
        return f"{self.node.prefix}resume:{session_id}"

    def stream_key(self, session_id: str) -> str:
        return f"{self.node.prefix}resume_log:{session_id}"

    def token_key(self, token: str) -> str:
        return f"{self.node.prefix}resume_token:{token}"

    def ttl_s(self, host: ResumableHost) -> int:
        config = host.limits
        return int(config.session_cap_s + config.resume_grace_s) + 1

    def open(self, host: ResumableHost, owner: str) -> Resumable:
        resumable = super().open(host, owner)
        self.attach(resumable, held=None, received=0, fresh=True)
        return resumable

    def adopt(
        self, host: ResumableHost, owner: str, held: FrameLog, received: int, presented: str
    ) -> Resumable:
        """A session taken over from another node: its log refilled, its token rotated."""
        resumable = super().open(host, owner)
        self.attach(resumable, held=held, received=received, fresh=False)
        self.rotate(resumable, presented)
        self._sessions[presented] = resumable  # valid until the client shows the new one
        return resumable

    def attach(
        self, resumable: Resumable, *, held: FrameLog | None, received: int, fresh: bool
    ) -> None:
        """Give ``resumable`` its Redis log (after the frames ``held``, already there)."""
        host = resumable.host
        last_seq = held.last_seq if held is not None else 0
        shared = SharedFrameLog(
            self.node.redis,
            self._append,
            session_key=self.session_key(host.id),
            stream_key=self.stream_key(host.id),
            node_id=self.node.node_id,
            max_frames=host.limits.resume_log_frames,
            ttl_s=self.ttl_s(host),
            last_seq=last_seq,
            received=received,
            reading=lambda: host.received_frames,
        )
        mirrored = MirroredFrameLog(resumable.log.limit_bytes, shared)
        if held is not None:  # held here too, for a later resume on this node
            mirrored.take_over(held)
        resumable.log = mirrored
        resumable.before_send = shared.durable
        add_observer = getattr(host, "add_observer", None)
        if add_observer is not None:
            add_observer(HandledFrames(host, shared))
        if fresh:
            shared.start(self._announce(resumable))
        else:
            shared.start(None)

    async def _announce(self, resumable: Resumable) -> None:
        """Write the session's hash and token before its first frame."""
        host = resumable.host
        key = self.session_key(host.id)
        ttl = self.ttl_s(host)
        fields: dict[Any, Any] = {
            "node": self.node.node_id,
            "owner": resumable.owner,
            "token": resumable.token,
            "previous": "",
            "received": 0,
        }
        async with self.node.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, ttl)
            pipe.set(self.token_key(resumable.token), host.id, ex=ttl)
            await pipe.execute()

    async def hand_off(self, resumable: Resumable) -> bool:
        """Let any node take this session over at once (a drain), before closing it here.

        Everything queued is made durable first; then the session's owner is
        cleared (a resume elsewhere needs no liveness wait) and this node sends
        and logs nothing more of it, and keeps its keys when the session ends
        here. Call it, then close the connection with a code the client
        resumes on (1012). False: the session cannot move (no shared log, or
        Redis failed), so the client will rebuild.
        """
        shared = resumable.log.shared if isinstance(resumable.log, MirroredFrameLog) else None
        if shared is None or shared.broken or shared.lost or resumable.ended:
            return False
        await shared.settled()
        if shared.broken or shared.lost:
            return False
        shared.closing = True  # its keys stay for the node that takes it over
        shared.lost = True  # nothing more is sent or logged from here
        await shared.stop()
        released = await self._release(
            keys=[self.session_key(resumable.host.id)], args=[self.node.node_id]
        )
        return bool(released)

    def rotate(self, resumable: Resumable, presented: str) -> None:
        dead = [t for t in (resumable.token, resumable.previous) if t and t != presented]
        super().rotate(resumable, presented)
        self._spawn(self._rotated(resumable, presented, dead))

    async def _rotated(self, resumable: Resumable, presented: str, dead: list[str]) -> None:
        host = resumable.host
        if isinstance(resumable.log, MirroredFrameLog):  # after the hash it updates exists
            await resumable.log.shared.announced.wait()
        ttl = self.ttl_s(host)
        async with self.node.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.session_key(host.id),
                mapping={"token": resumable.token, "previous": presented},
            )
            pipe.set(self.token_key(resumable.token), host.id, ex=ttl)
            for token in dead:
                pipe.delete(self.token_key(token))
            await pipe.execute()

    def forget(self, token: str) -> None:
        resumable = self._sessions.get(token)
        super().forget(token)
        if resumable is None:
            return
        shared = resumable.log.shared if isinstance(resumable.log, MirroredFrameLog) else None
        if resumable.ended and shared is not None and not shared.closing:
            shared.closing = True
            tokens = [t for t in (resumable.token, resumable.previous) if t]
            self._spawn(self._ended(resumable.host.id, shared, tokens))
        elif not resumable.ended:
            self._spawn(self._delete(self.token_key(token)))

    async def _ended(self, session_id: str, shared: SharedFrameLog, tokens: list[str]) -> None:
        """The session is over here: its Redis keys go, unless another node owns it now."""
        await shared.stop()
        keys = [self.session_key(session_id), self.stream_key(session_id)]
        await self._forget(keys=keys, args=[self.node.node_id, *map(self.token_key, tokens)])

    async def _delete(self, key: str) -> None:
        await self.node.redis.delete(key)

    async def settle(self, within_s: float = 2.0) -> None:
        """Let the Redis updates under way finish (a shutdown), cancelling what is left."""
        pending = list(self._tasks)
        if pending:
            await asyncio.wait(pending, timeout=within_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(_logged(work), name="rtagents-redis-resume")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _logged(work: Coroutine[Any, Any, Any]) -> None:
    try:
        await work
    except (RedisError, OSError) as exc:
        log.error("updating a resumable session in Redis failed: %s", exc)
