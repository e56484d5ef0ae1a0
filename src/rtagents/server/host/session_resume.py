"""Session resume (opt-in): tokens, the log of sent frames, and handing a session over.

The contract is ``docs/reliability.md``. A client that sends
``X-Rtagents-Resume: 1`` when it opens a session gets a token in the handshake
response; its session then survives a lost connection for ``resume_grace_s``:
the host keeps running (responses go on, frames pile into a :class:`FrameLog`)
and a new connection presenting the token and the count of frames it got is
sent exactly the frames it missed, then continues live. Nothing is added to
the frames themselves, so stock clients, which never send the header, see no
difference at all.

The host numbers its frames and counts the client's; this module owns what
outlives one connection: the token registry, the ring of frames, and the
rendezvous between the connection that presents a token and the host's
receive loop (:class:`Resumable`).

A token is not a bearer capability on its own: it resumes only for the
principal that opened the session (``owner``, see ``server/auth.py``), a
refused attempt leaves the live session untouched, and every resume rotates
it: the handshake answer carries a new token and every older one is dead.
The one exception keeps resume working when that answer is lost on the way
(a reset mid-handshake): the token just presented stays valid until the
client shows it holds the new one (a frame on the resumed connection, or a
resume with the new token), never longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ...protocol.errors import Origin
from ...transports.base import (
    GOING_AWAY,
    INTERNAL_ERROR,
    NORMAL_CLOSURE,
    Transport,
    TransportClosed,
)
from ..auth import Refusal

if TYPE_CHECKING:
    from ..config import ServerConfig


class ResumableHost(Protocol):
    """What resume reads of its session host (a :class:`SessionHost`)."""

    @property
    def id(self) -> str: ...

    @property
    def limits(self) -> ServerConfig: ...

    @property
    def received_frames(self) -> int:
        """Client frames received so far (a resuming client compares its count)."""


OPT_IN_HEADER = "x-rtagents-resume"
TOKEN_HEADER = "x-rtagents-resume-token"
LAST_SEQ_HEADER = "x-rtagents-last-seq"
SESSION_HEADER = "x-rtagents-session-id"
GRACE_HEADER = "x-rtagents-resume-grace"
RECEIVED_HEADER = "x-rtagents-received"
TOKEN_BYTES = 24  # 192 bits, url-safe base64
# How long closing a replaced connection may take (its peer may be unreachable).
REPLACED_CLOSE_TIMEOUT_S = 1.0


class FrameLog:
    """The last frames a session sent, numbered from 1, bounded by total size.

    Oldest frames go first once ``limit_bytes`` is exceeded, so a client away
    for long during a long response may find its gap trimmed (and rebuilds).
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.last_seq = 0
        self.size = 0
        self._frames: deque[tuple[str, int]] = deque()

    @property
    def first_seq(self) -> int:
        """The number of the oldest frame held (``last_seq + 1`` when none is)."""
        return self.last_seq - len(self._frames) + 1

    def append(self, text: str) -> int:
        cost = len(text) if text.isascii() else len(text.encode())
        self.last_seq += 1
        self._frames.append((text, cost))
        self.size += cost
        while self.size > self.limit_bytes and self._frames:
            self.size -= self._frames.popleft()[1]
        return self.last_seq

    def take_over(self, other: FrameLog) -> None:
        """Hold what ``other`` holds, numbering included (a session moved between nodes)."""
        self.last_seq = other.last_seq
        self.size = other.size
        self._frames = other._frames

    def holds_after(self, seq: int) -> bool:
        """Whether every frame after ``seq`` (the client's count) can be replayed."""
        return 0 <= seq <= self.last_seq and seq + 1 >= self.first_seq

    def after(self, seq: int) -> list[str]:
        """Frames ``seq + 1 .. last_seq`` in order (check :meth:`holds_after` first)."""
        skip = seq + 1 - self.first_seq
        return [text for index, (text, _) in enumerate(self._frames) if index >= skip]


@dataclass(eq=False)
class Attachment:
    """A connection that took a session over; ``released`` once the host lets go of it."""

    transport: Transport
    last_seq: int
    released: asyncio.Event = field(default_factory=asyncio.Event)


class Resumable:
    """The resume side of one session host: token, log, and the next connection."""

    def __init__(
        self, registry: ResumeRegistry, host: ResumableHost, grace_s: float, owner: str
    ) -> None:
        self.token = secrets.token_urlsafe(TOKEN_BYTES)
        # The token the last resume presented, while the client may not have
        # received its replacement (see claim() and _confirmed()).
        self.previous: str | None = None
        # The principal that opened the session; only it may resume it.
        self.owner = owner
        self.host = host
        self.grace_s = grace_s
        self.log = FrameLog(host.limits.resume_log_bytes)
        # Awaited by the host's writer before it sends frame n (False: do not send it):
        # a shared log (stores/redis_resume.py) makes each frame durable first.
        self.before_send: Callable[[int], Awaitable[bool]] | None = None
        self.ended = False
        self._registry = registry
        self._cut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending: Attachment | None = None
        self._arrived = asyncio.Event()
        self._current: Attachment | None = None

    def response_headers(self, *, received: int | None = None) -> list[tuple[bytes, bytes]]:
        headers = [
            (SESSION_HEADER, self.host.id),
            (TOKEN_HEADER, self.token),
            (GRACE_HEADER, f"{self.grace_s:g}"),
        ]
        if received is not None:
            headers.append((RECEIVED_HEADER, str(received)))
        return [(name.encode(), value.encode()) for name, value in headers]

    def claim(self, last_seq: int, presented: str) -> int:
        """Stop reading the current connection and return the client frames counted.

        Called before the new connection is accepted, so the count it reports
        is final: a frame the old connection delivers after this is dropped
        unread, and the client re-sends it. The token rotates here (the new
        one goes out in the handshake answer): every token but ``presented``
        is dead at once, and ``presented`` too once the client shows it got
        the new one.
        """
        if not self.log.holds_after(last_seq):
            held = f"frames {self.log.first_seq}..{self.log.last_seq}"
            raise Refusal(
                409,
                "resume_gap",
                f"Cannot resume after frame {last_seq}: this session holds {held} "
                f"(the log keeps {self.log.limit_bytes} bytes). Start a new session.",
            )
        self._registry.rotate(self, presented)
        if not self._cut.done():
            self._cut.set_result(None)
        return self.host.received_frames

    def offer(self, transport: Transport, last_seq: int) -> Attachment:
        """Hand ``transport`` (accepted) to the host; a still-pending earlier one loses.

        A session that ended while this connection was being accepted (its grace
        window ran out) releases it at once: nobody would ever take it.
        """
        attachment = Attachment(transport, last_seq)
        if self.ended:
            attachment.released.set()
            return attachment
        if self._pending is not None:
            self._pending.released.set()
        self._pending = attachment
        self._arrived.set()
        return attachment

    async def receive(self, transport: Transport) -> str | bytes:
        """``transport.recv()``, abandoned (as a 1001 close) once a new connection claims us."""
        if self._cut.done():
            raise TransportClosed(GOING_AWAY, "resumed on another connection", origin=Origin.LOCAL)
        recv = asyncio.ensure_future(transport.recv())
        try:
            await asyncio.wait((recv, self._cut), return_when=asyncio.FIRST_COMPLETED)
        finally:
            # checked first: a frame read after the claim is not counted; and a
            # host cancelled while waiting leaves no receive task behind
            if self._cut.done() or not recv.done():
                recv.cancel()
                await asyncio.gather(recv, return_exceptions=True)
        if self._cut.done():
            raise TransportClosed(GOING_AWAY, "resumed on another connection", origin=Origin.LOCAL)
        message = recv.result()
        if self.previous is not None:
            self._confirmed()
        return message

    def _confirmed(self) -> None:
        """The client sent a frame after the handshake that carried the new token: it holds
        that token, so the one it presented to resume is dead from now on."""
        if self.previous is not None:
            self._registry.forget(self.previous)
            self.previous = None

    async def reattach(self, closed: TransportClosed, old: Transport) -> Attachment | None:
        """After ``old`` closed: the connection that resumed us, or None to end the session.

        A 1000 close from the client (not our own takeover) ends it at once;
        any other loss waits up to the grace window for a resume.
        """
        if self.ended or (closed.close_code == NORMAL_CLOSURE and not self._cut.done()):
            return None
        return await self._next_attachment(old)

    async def replay(self, attachment: Attachment) -> None:
        """Send the new connection every frame after its count, oldest first."""
        transport = attachment.transport
        if not self.log.holds_after(attachment.last_seq):  # trimmed while it was being accepted
            await transport.close(INTERNAL_ERROR, "resume_gap: missed frames were trimmed")
            return
        try:
            for text in self.log.after(attachment.last_seq):
                await transport.send(text)
        except TransportClosed:
            pass  # the receive loop sees it and waits for the next resume

    async def _next_attachment(self, old: Transport) -> Attachment | None:
        """Let go of ``old`` and wait up to the grace window for a new connection."""
        if self._current is not None:
            self._current.released.set()
            self._current = None
        if not old.closed:  # taken over while the old connection was still open
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    old.close(GOING_AWAY, "resumed on another connection"),
                    REPLACED_CLOSE_TIMEOUT_S,
                )
        try:
            await asyncio.wait_for(self._arrived.wait(), self.grace_s)
        except TimeoutError:
            return None
        attachment = self._pending
        self._pending = None
        self._arrived.clear()
        if self.ended or attachment is None:
            return None
        self._cut = asyncio.get_running_loop().create_future()
        self._current = attachment
        return attachment

    def end(self) -> None:
        """The session is over: forget the token, release every waiting connection."""
        self.ended = True
        self._registry.forget(self.token)
        if self.previous is not None:
            self._registry.forget(self.previous)
        for attachment in (self._current, self._pending):
            if attachment is not None:
                attachment.released.set()
        self._arrived.set()  # wakes a host waiting out its grace window


class ResumeRegistry:
    """Resumable sessions of this process, by token."""

    def __init__(self) -> None:
        self._sessions: dict[str, Resumable] = {}

    def open(self, host: ResumableHost, owner: str) -> Resumable:
        """Make ``host`` resumable by ``owner`` (the principal that opened it)."""
        resumable = Resumable(self, host, host.limits.resume_grace_s, owner)
        self._sessions[resumable.token] = resumable
        return resumable

    def find(self, token: str, owner: str) -> Resumable:
        """The live session ``token`` names, if ``owner`` opened it; a :class:`Refusal` if not.

        Nothing about the session changes here: a refused resume neither cuts
        its connection nor replays a frame.
        """
        resumable = self._sessions.get(token)
        if resumable is None or resumable.ended:
            raise Refusal(
                404,
                "resume_unknown",
                "No resumable session for this token: it never existed, it ended, its "
                "grace window passed, or it was replaced by a newer token at a resume. "
                "Start a new session.",
            )
        if not hmac.compare_digest(resumable.owner.encode(), owner.encode()):
            raise Refusal(
                403,
                "resume_not_owner",
                "This resume token belongs to a session opened with other credentials: a "
                "session resumes only with the API key or client secret that opened it. "
                "Present that credential, or start a new session.",
            )
        return resumable

    def rotate(self, resumable: Resumable, presented: str) -> None:
        """Give ``resumable`` a new token; of the old ones only ``presented`` still works.

        Presenting the current token proves the previous one obsolete (the
        client got the answer that replaced it); presenting the previous one
        means that answer was lost, so the token it carried dies unused.
        """
        for token in (resumable.token, resumable.previous):
            if token is not None and token != presented:
                self._sessions.pop(token, None)
        resumable.previous = presented
        resumable.token = secrets.token_urlsafe(TOKEN_BYTES)
        self._sessions[resumable.token] = resumable

    def forget(self, token: str) -> None:
        self._sessions.pop(token, None)

    def __len__(self) -> int:
        return len(self._sessions)


@dataclass(frozen=True, slots=True)
class Claim:
    """A resume request the server will honour, before its connection is accepted."""

    resumable: Resumable
    last_seq: int
    received: int


def wants_resume(headers: Mapping[str, str], grace_s: float) -> bool:
    """Whether a new session asked for resume (and this server offers it)."""
    return grace_s > 0 and headers.get(OPT_IN_HEADER, "").strip() == "1"


@dataclass(frozen=True, slots=True)
class ResumeRequest:
    token: str
    last_seq: int


def resume_request(headers: Mapping[str, str]) -> ResumeRequest | None:
    """The token and count a reconnecting client sent, or None for a new session."""
    token = headers.get(TOKEN_HEADER)
    if token is None:
        return None
    raw = headers.get(LAST_SEQ_HEADER, "").strip()
    if not raw.isdigit():
        raise Refusal(
            400,
            "invalid_resume_request",
            f"A resume needs '{LAST_SEQ_HEADER}: <n>', the number of server frames fully "
            f"received (a non-negative integer); got {raw or 'nothing'!r}.",
            LAST_SEQ_HEADER,
        )
    return ResumeRequest(token.strip(), int(raw))
