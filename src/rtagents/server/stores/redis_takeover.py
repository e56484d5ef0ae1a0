"""Taking over a session whose node died: rebuild it here from its Redis log, then resume.

The session's state is what its frames said: a fresh host applies every
logged frame to its conversation (the server's conversation is built from
what it emits, so it comes out the same), the last ``session.created`` or
``session.updated`` gives the backend its config, and the counts continue
where the log ends. The client is then sent the frames it missed, and a
response that was streaming on the dead node ends with ``response.done``
status ``failed`` (code ``node_lost``): its engine state died with the node,
and the app asks again. Audio in the input buffer, and anything not yet in
the log when the node died, is gone; nothing the client received is.

A session is taken over only once its node's liveness key has expired (a
live owner keeps it), and with a compare-and-set on the owner, so two nodes
never both serve it. A log trimmed past its first frame cannot rebuild the
session: the resume is refused as a gap and the client rebuilds instead.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openai.types.realtime import ResponseDoneEvent, ResponseOutputItemDoneEvent
from redis.exceptions import RedisError
from starlette.websockets import WebSocket

from ...protocol.codec import decode_server_event
from ...protocol.conversation import Conversation
from ...transports.base import TransportClosed
from ..auth import Refusal
from ..host.session_host import SessionHost
from ..host.session_resume import FrameLog
from ..host.wire_events import build
from ..local.pipeline import local_backend
from ..local.session_config import SessionConfig
from ..ws import StarletteTransport
from .redis_resume import SharedResumeRegistry
from .redis_secrets import unavailable

if TYPE_CHECKING:
    from ..state import ServerState

# KEYS: session hash. ARGV: expected node, presented token, this node.
_CLAIM = """
local node = redis.call('HGET', KEYS[1], 'node')
if node ~= ARGV[1] then return 0 end
local token = redis.call('HGET', KEYS[1], 'token')
local previous = redis.call('HGET', KEYS[1], 'previous')
if token ~= ARGV[2] and previous ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'node', ARGV[3])
return 1
"""
POLL_S = 0.05
READ_CHUNK = 512  # log entries read at once while rebuilding
_SESSION_FIELDS = ("id", "object", "expires_at")


@dataclass(frozen=True, slots=True)
class Takeover:
    """A session claimed from a dead node and rebuilt from its log, to run on this connection.

    ``held`` is the end of its log as this node keeps it (bounded like any
    session's, ``resume_log_bytes``), ``conversation`` what every logged frame
    made of it, ``config`` its last ``session.created``/``updated`` as sent.
    """

    session_id: str
    owner: str
    received: int
    last_seq: int
    presented: str
    held: FrameLog
    conversation: Conversation
    config: dict[str, Any] | None
    conversation_id: str | None


async def claim_elsewhere(
    registry: SharedResumeRegistry, token: str, owner: str, last_seq: int
) -> Takeover:
    """Claim the session ``token`` names from its (dead) node; a :class:`Refusal` if not."""
    try:
        return await _claim(registry, token, owner, last_seq)
    except (RedisError, OSError) as exc:
        raise unavailable(exc) from exc


async def _claim(registry: SharedResumeRegistry, token: str, owner: str, last_seq: int) -> Takeover:
    if getattr(registry.node.config, "upstream", None) is not None:
        # A relayed session's state is upstream, with a connection this node cannot adopt.
        raise Refusal(
            409,
            "resume_not_movable",
            "This session was relayed to an upstream server by another node and cannot be "
            "moved to this one; start a new session (the client rebuilds it).",
        )
    redis = registry.node.redis
    raw_id = await redis.get(registry.token_key(token))
    info = await redis.hgetall(registry.session_key(_text(raw_id))) if raw_id else {}
    fields = {_text(k): _text(v) for k, v in info.items()}
    if not fields:
        raise _unknown()
    session_id = _text(raw_id)
    if not hmac.compare_digest(fields.get("owner", "").encode(), owner.encode()):
        raise Refusal(
            403,
            "resume_not_owner",
            "This resume token belongs to a session opened with other credentials: a "
            "session resumes only with the API key or client secret that opened it.",
        )
    node = fields.get("node", "")
    if node == registry.node.node_id:
        raise _unknown()  # this node held it and let it go
    await _until_dead(registry, node)
    claim = registry.node.redis.register_script(_CLAIM)
    key = registry.session_key(session_id)
    if not await claim(keys=[key], args=[node, token, registry.node.node_id]):
        raise Refusal(
            503,
            "resume_contended",
            "Another node is taking this session over at the same moment; retry the resume.",
            headers={"Retry-After": "1"},
        )
    rebuilt = await _rebuild(registry, session_id, last_seq)
    received = int(fields.get("received") or 0)
    return Takeover(session_id, owner, received, last_seq, token, *rebuilt)


async def _rebuild(
    registry: SharedResumeRegistry, session_id: str, last_seq: int
) -> tuple[FrameLog, Conversation, dict[str, Any] | None, str | None]:
    """Read the log in chunks (memory stays bounded): the conversation every frame made,
    the last config and conversation id, and the log's end held as this node holds one."""
    held = FrameLog(registry.node.config.resume_log_bytes)
    conversation = Conversation()
    config: dict[str, Any] | None = None
    conversation_id: str | None = None
    start = "-"
    while True:
        read = await registry.node.redis.xrange(
            registry.stream_key(session_id), min=start, max="+", count=READ_CHUNK
        )
        chunk: list[Any] = list(read or [])
        for entry_id, data in chunk:
            if _text(entry_id) != f"{held.last_seq + 1}-0":
                raise _gap(last_seq, f"frame {held.last_seq + 1} is missing (the log was trimmed)")
            text = _text(data[b"f"])
            event = decode_server_event(text)
            conversation.apply(event)
            held.append(text)
            kind = getattr(event, "type", None)
            if kind in ("session.created", "session.updated"):
                # exclude_unset: the fields the frame carried, an explicit null included
                # (turn_detection: null is push-to-talk, not "use the default")
                data_ = event.session.model_dump(mode="json", exclude_unset=True, by_alias=True)  # type: ignore[union-attr]
                config = {k: v for k, v in data_.items() if k not in _SESSION_FIELDS}
            elif kind == "conversation.created":
                conversation_id = event.conversation.id  # type: ignore[union-attr]
        if not chunk or len(chunk) < READ_CHUNK:
            break
        start = "(" + _text(chunk[-1][0])
    if held.last_seq == 0 or not held.holds_after(last_seq):
        raise _gap(last_seq, f"this node can replay frames {held.first_seq}..{held.last_seq}")
    return held, conversation, config, conversation_id


def _gap(last_seq: int, why: str) -> Refusal:
    return Refusal(
        409,
        "resume_gap",
        f"Cannot resume after frame {last_seq} on this node: {why}. The session's shared log "
        "must reach back to its first frame to rebuild it here. Start a new session.",
    )


async def _until_dead(registry: SharedResumeRegistry, node: str) -> None:
    """Wait out the owner's liveness (it may have just died); 503 if it is really alive."""
    if not node:
        return  # handed off (drain): nobody holds it
    deadline = time.monotonic() + registry.node.ttl_s + 0.5
    while await registry.node.alive(node):
        if time.monotonic() > deadline:
            raise Refusal(
                503,
                "session_on_live_node",
                "This session is being served by another node that is still alive; retry "
                "the resume (it reaches that node, or this one once that node is gone).",
                headers={"Retry-After": "1"},
            )
        await asyncio.sleep(POLL_S)


async def serve_takeover(
    websocket: WebSocket, state: ServerState, takeover: Takeover, subprotocol: str | None
) -> None:
    """Rebuild the session on this node, send the client what it missed, and run it."""
    registry = state.resumes
    assert isinstance(registry, SharedResumeRegistry)
    transport = StarletteTransport(websocket)
    if takeover.config is not None:
        config = SessionConfig(takeover.config)
    else:
        config = SessionConfig.initial("realtime", state.config.model)
    backend = local_backend(state, config)
    host = SessionHost(
        transport,
        state.config,
        backend,
        roster=state.sessions,
        session_id=takeover.session_id,
    )
    host.conversation = takeover.conversation  # before anything reads it
    missed = takeover.held.after(takeover.last_seq)
    resumable = registry.adopt(
        host, takeover.owner, takeover.held, takeover.received, takeover.presented
    )
    host.resume = resumable
    expires_at = int(state.config.clock() + state.config.session_cap_s)
    last = resumable.log.last_seq
    host.restore(frames_emitted=last, received_frames=takeover.received, expires_at=expires_at)
    ctx = getattr(host.backend, "ctx", None)
    if ctx is not None and takeover.conversation_id is not None:
        ctx.conversation_id = takeover.conversation_id
    await websocket.accept(
        subprotocol=subprotocol, headers=resumable.response_headers(received=takeover.received)
    )
    try:
        for text in missed:
            await transport.send(text)
    except TransportClosed:
        pass  # gone again: the host detaches and waits for the next resume, here
    for response_id in list(_in_progress(host)):
        await _fail_response(host, response_id)
    await host.run()


async def _fail_response(host: SessionHost, response_id: str) -> None:
    """End a response the dead node was streaming: its unfinished items ``incomplete``,
    then ``response.done`` ``failed``, as both sides' conversations then agree."""
    record = host.conversation.responses[response_id]
    output: list[dict[str, Any]] = []
    for index, item_id in enumerate(record.output_item_ids):
        item = host.conversation.get(item_id)
        if item is None:
            continue
        data = item.model_dump(mode="json", exclude_none=True)
        if data.get("status") == "in_progress":
            data["status"] = "incomplete"
            await host.emit(
                build(
                    ResponseOutputItemDoneEvent,
                    response_id=response_id,
                    output_index=index,
                    item=data,
                )
            )
        output.append(data)
    await host.emit(_failed(response_id, output))


def _in_progress(host: SessionHost) -> list[str]:
    return [rid for rid, r in host.conversation.responses.items() if r.status == "in_progress"]


def _failed(response_id: str, output: list[dict[str, Any]]) -> ResponseDoneEvent:
    return build(
        ResponseDoneEvent,
        response={
            "id": response_id,
            "object": "realtime.response",
            "status": "failed",
            "status_details": {
                "type": "failed",
                "error": {
                    "type": "server_error",
                    "code": "node_lost",
                },
            },
            "output": output,
        },
    )


def _unknown() -> Refusal:
    return Refusal(
        404,
        "resume_unknown",
        "No resumable session for this token: it never existed, it ended, its grace window "
        "passed, or it was replaced by a newer token at a resume. Start a new session.",
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
