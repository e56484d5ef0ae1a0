"""A call's ``oai-events`` data channel as the session's transport, with its size limit kept.

The server advertises ``limits.datachannel_message_bytes`` as the answer's
``a=max-message-size``, and this is where it holds to it: a caller's message
over it is never decoded nor applied; the session answers ``message_too_large``
(with the message's ``event_id`` when it can be read cheaply from the text)
in its place, in receive order, and goes on. Outbound, an event larger than
the caller accepts is replaced by such an error too. The call's sideband
WebSockets ride along: every server event goes to each of them as well, and
their client events join the channel's receive order (under the WebSocket's
own frame limit, not the channel's).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable

from aiortc import RTCDataChannel

from ...protocol.codec import encode_event
from ...protocol.errors import LocalProtocolError, RealtimeError, RemoteProtocolError
from ...transports.base import NORMAL_CLOSURE, Transport, TransportClosed
from ...transports.webrtc import DataChannelTransport
from ..host.wire_events import error_event
from .sctp_guard import NotText, TooLarge

log = logging.getLogger("rtagents.server.webrtc")

MAX_CLOSE_REASON_BYTES = 123
# Reading an event_id out of a refused message looks at this many JSON tokens
# (strings and brackets) at most, so a hostile message costs little to refuse.
EVENT_ID_SCAN_TOKENS = 4096
# An event_id longer than this is not echoed back (it would not fit an error).
MAX_EVENT_ID_CHARS = 512
_TOKEN = re.compile(r'["{}\[\]]')
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STRING_VALUE = re.compile(r'\s*:\s*("[^"\\]*(?:\\.[^"\\]*)*")', re.DOTALL)

Refuse = Callable[[RealtimeError], Awaitable[None]]


class _Refused(str):
    """Stands in the receive queue for a message that was refused unread (empty text)."""

    error: RealtimeError


class DataChannelWithSidebands(DataChannelTransport):
    """The data channel, its inbound size limit, and the call's sideband WebSockets.

    ``refuse`` answers a refused message on the session (called from
    :meth:`recv`, so in receive order). Every server event goes to the
    channel and to each sideband; client events from a sideband come in
    through :meth:`deliver_from_sideband`.
    """

    def __init__(self, channel: RTCDataChannel, *, max_inbound: int, refuse: Refuse) -> None:
        self.max_inbound = max_inbound
        self._refuse = refuse
        self.sidebands: set[Transport] = set()
        super().__init__(channel)

    def deliver(self, message: str | bytes) -> None:
        """A message from the caller: queued as it is, or as a refusal saying why not.

        Called from inside aiortc's SCTP receive path: nothing may raise out of
        here, or the association stops delivering the call's later messages.
        """
        try:
            error = self._refusal_of(message)
        except Exception:  # a bug in reading a hostile message must cost only that message
            log.exception("reading a data channel message failed")
            error = LocalProtocolError(
                "The server failed while reading this message; this is a server bug, not your "
                "request. The session goes on.",
                code="internal_error",
            )
        if error is not None:
            refused = _Refused()
            refused.error = error
            message = refused
        super().deliver(message)

    def _refusal_of(self, message: str | bytes) -> RealtimeError | None:
        error: RealtimeError | None = None
        if isinstance(message, TooLarge):  # cut while arriving (sctp_guard)
            error = too_large_inbound(message, None, self.max_inbound)
        elif isinstance(message, NotText):
            error = RemoteProtocolError(
                "A text message on the data channel was not valid UTF-8, so it was not read: "
                "send each event as JSON text.",
                code="invalid_event",
            )
        elif (size := _size_over(message, self.max_inbound)) is not None:
            error = too_large_inbound(message, size, self.max_inbound)
        return error

    def deliver_from_sideband(self, message: str | bytes) -> None:
        super().deliver(message)

    async def recv(self) -> str | bytes:
        while True:
            message = await super().recv()
            if not isinstance(message, _Refused):
                return message
            await self._refuse(message.error)

    async def send(self, message: str) -> None:
        for sideband in list(self.sidebands):
            try:
                await sideband.send(message)
            except TransportClosed:
                self.sidebands.discard(sideband)
        if len(message.encode()) > self.max_message_size:
            message = too_large_outbound(message, self.max_message_size)
        await super().send(message)

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        why = self.close_reason if self.closed else reason  # the first reason is the real one
        await super().close(code, reason)
        ending = f"call ended: {why or 'closed'}"
        ending = ending.encode()[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")
        for sideband in list(self.sidebands):
            await sideband.close(NORMAL_CLOSURE, ending)
        self.sidebands.clear()


def _size_over(message: str | bytes, limit: int) -> int | None:
    """The message's size in bytes if it is over ``limit``, else None (encoding only if needed)."""
    if len(message) > limit:
        return len(message.encode()) if isinstance(message, str) else len(message)
    if isinstance(message, bytes) or len(message) * 4 <= limit:
        return None
    size = len(message.encode())
    return size if size > limit else None


def too_large_inbound(message: str | bytes, size: int | None, limit: int) -> RemoteProtocolError:
    """The refusal of a caller's message over the channel's limit (not decoded, not applied).

    ``size`` is None for a message cut while it arrived: ``message`` is then
    what arrived of its start, and the rest was never held.
    """
    event_id = event_id_of(message) if isinstance(message, str) else None
    said = f"{size} bytes" if size is not None else "over the limit (cut while it arrived)"
    return RemoteProtocolError(
        f"The message is {said}; the data channel accepts messages up to {limit} bytes "
        "(the answer's a=max-message-size, limits.datachannel_message_bytes). It was not "
        "applied. Split audio into several input_audio_buffer.append events.",
        code="message_too_large",
        event_id=event_id,
    )


def too_large_outbound(message: str, limit: int) -> str:
    """What the peer gets instead of an event larger than its data channel accepts."""
    data = json.loads(message)  # rare, so parsing it whole is fine
    kind = data.get("type")
    error = data.get("error") if kind == "error" else None
    event_id = error.get("event_id") if isinstance(error, dict) else None
    refusal = LocalProtocolError(
        f"A '{kind}' event of {len(message.encode())} bytes was not delivered: the data "
        f"channel accepts messages up to {limit} bytes (the offer's a=max-message-size). "
        "Read large payloads (e.g. conversation.item.retrieve audio) over a sideband "
        "WebSocket instead.",
        code="message_too_large",
        event_id=event_id if isinstance(event_id, str) else None,
    )
    return encode_event(error_event(refusal, error_type="server_error"))


def event_id_of(text: str) -> str | None:
    """The top-level ``event_id`` of a JSON object, read without decoding the whole text.

    Strings are skipped whole by a regular expression and brackets counted, so
    the cost is a few tokens for a typical event (however long its audio), and
    at most ``EVENT_ID_SCAN_TOKENS`` for a hostile one (then None).
    """
    depth, position = 0, 0
    for _ in range(EVENT_ID_SCAN_TOKENS):
        token = _TOKEN.search(text, position)
        if token is None:
            return None
        if token.group() != '"':
            depth += 1 if token.group() in "{[" else -1
            position = token.end()
            continue
        string = _STRING.match(text, token.start())
        if string is None:
            return None  # an unterminated string: the rest is unreadable
        position = string.end()
        if depth == 1 and string.group() == '"event_id"':
            value = _STRING_VALUE.match(text, position)
            if value is not None and len(value.group(1)) <= MAX_EVENT_ID_CHARS + 2:
                return _echoable(value.group(1))
    return None


def _echoable(literal: str) -> str | None:
    """A JSON string literal's text if it can be sent back in an error, else None.

    A hostile message's id may hold a raw control character or a bad escape
    (not JSON), or a lone surrogate (JSON, but not sendable as UTF-8).
    """
    try:
        decoded: str = json.loads(literal)
        decoded.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return None
    return decoded
