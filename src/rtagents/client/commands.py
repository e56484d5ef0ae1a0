"""Typed helpers for the GA client events, on top of one generic ``send``.

Each helper builds the event, lets ``send`` check and encode it (a bad field
raises :class:`LocalProtocolError` naming it, and nothing goes on the wire;
see :mod:`.outbound`) and returns the client ``event_id`` the server will echo
in any ``error`` it causes.
``update_session`` also waits for its answer (``session.updated`` or an ``error``
naming its ``event_id``), which the reader matches in :mod:`.inbound`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..protocol.codec import encode_event
from ..protocol.errors import LocalProtocolError
from .events import EventTimeout, new_event_id
from .outgoing import as_plain
from .stream import release, result_within

if TYPE_CHECKING:
    from openai.types.realtime import SessionUpdatedEvent

    from .inbound import Inbound
    from .outbound import Outbound

# The hosted limit is 15 MiB per append event. Keeping the whole event (base64
# text, 4/3 of the audio) under it satisfies either reading of that limit; chunks
# end on a whole 16-bit sample and whole base64 quanta (a multiple of 6 bytes).
MAX_APPEND_BYTES = ((15 * 2**20 - 2**16) * 3 // 4) // 6 * 6
OUTAGE_CHECK_S = 0.05  # how often a paused ack deadline looks for the new connection


async def answered_while_connected(
    future: asyncio.Future[Any],
    limit: float | None,
    outbound: Outbound,
    on_timeout: Callable[[], Exception],
) -> Any:
    """``future``'s result, or ``on_timeout()`` once ``limit`` seconds of one live
    connection passed without it (see ``update_session``)."""
    if limit is None:
        return await result_within(future, None, on_timeout)
    since, installs = time.monotonic(), outbound.installs
    while not future.done():
        if not outbound.live or outbound.installs != installs:
            since, installs = time.monotonic(), outbound.installs  # the clock starts again
            if not outbound.live:
                await asyncio.wait({future}, timeout=OUTAGE_CHECK_S)
                continue
        remaining = since + limit - time.monotonic()
        if remaining <= 0:
            raise on_timeout()
        await asyncio.wait({future}, timeout=remaining)
    return future.result()


def _required_str(value: object, param: str) -> str:
    if not isinstance(value, str) or not value:
        raise LocalProtocolError(
            f"'{param}' must be a non-empty string, got {value!r}",
            code="invalid_value",
            param=param,
        )
    return value


class SessionCommands:
    """The 11 GA client events (and a few conveniences) as methods of the session.

    A group of methods over two of the session's parts: what goes out
    (:class:`~.outbound.Outbound`) and what came in (:class:`~.inbound.Inbound`,
    for ``session.update`` answers).
    """

    ack_timeout: float
    _inbound: Inbound
    _outbound: Outbound

    async def send(self, event: BaseModel | Mapping[str, Any]) -> str:
        """Validate and send any client event (model or dict); returns its ``event_id``.

        A missing ``event_id`` is generated. An invalid event raises
        :class:`LocalProtocolError` naming the field, and nothing is sent.
        """
        return await self._outbound.send(event)

    async def append_audio(self, audio: bytes | bytearray | memoryview) -> list[str]:
        """Send audio in the session's input format, split into events under 15 MiB.

        The event is built here from bytes, so its only field that can be wrong
        is checked directly; schema validation would re-parse megabytes of base64.
        """
        if not isinstance(audio, bytes | bytearray | memoryview):
            raise LocalProtocolError(
                f"audio must be bytes (raw samples in the input format), got "
                f"{type(audio).__name__}",
                code="invalid_type",
                param="audio",
            )
        from ..protocol.audio import b64encode_audio

        data = bytes(audio)
        ids = []
        for offset in range(0, len(data), MAX_APPEND_BYTES):
            event_id = new_event_id()
            chunk = b64encode_audio(data[offset : offset + MAX_APPEND_BYTES])
            text = encode_event(
                {"type": "input_audio_buffer.append", "event_id": event_id, "audio": chunk}
            )
            await self._outbound.send_frame("input_audio_buffer.append", event_id, text)
            ids.append(event_id)
        return ids

    async def commit_audio(self) -> str:
        """Commit the input buffer as a user item (push-to-talk end of turn)."""
        return await self.send({"type": "input_audio_buffer.commit"})

    async def clear_audio(self) -> str:
        """Drop the uncommitted input audio."""
        return await self.send({"type": "input_audio_buffer.clear"})

    async def create_item(
        self, item: BaseModel | Mapping[str, Any], *, previous_item_id: str | None = None
    ) -> str:
        """Add an item (message, function_call_output, …) after ``previous_item_id``."""
        event: dict[str, Any] = {"type": "conversation.item.create", "item": as_plain(item)}
        if previous_item_id is not None:
            event["previous_item_id"] = previous_item_id
        return await self.send(event)

    async def send_text(self, text: str) -> str:
        """Add a user text message (call :meth:`create_response` to get an answer)."""
        if not isinstance(text, str):
            raise LocalProtocolError(
                f"text must be a str, got {type(text).__name__}",
                code="invalid_type",
                param="item.content[0].text",
            )
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
        return await self.create_item(item)

    async def retrieve_item(self, item_id: str) -> str:
        """Ask for the server's copy of an item (answered by ``conversation.item.retrieved``)."""
        item_id = _required_str(item_id, "item_id")
        return await self.send({"type": "conversation.item.retrieve", "item_id": item_id})

    async def truncate_item(self, item_id: str, audio_end_ms: int, content_index: int = 0) -> str:
        """Cut an assistant audio item at what the user actually heard."""
        item_id = _required_str(item_id, "item_id")
        if isinstance(audio_end_ms, bool) or not isinstance(audio_end_ms, int) or audio_end_ms < 0:
            raise LocalProtocolError(
                f"'audio_end_ms' must be a whole number of milliseconds >= 0, got {audio_end_ms!r}",
                code="invalid_value",
                param="audio_end_ms",
            )
        return await self.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": content_index,
                "audio_end_ms": audio_end_ms,
            }
        )

    async def delete_item(self, item_id: str) -> str:
        item_id = _required_str(item_id, "item_id")
        return await self.send({"type": "conversation.item.delete", "item_id": item_id})

    async def create_response(self, **params: Any) -> str:
        """Ask for a response; ``params`` are per-response overrides (``instructions``,
        ``conversation="none"``, ``input``, ``metadata``, ``output_modalities``, …)."""
        event: dict[str, Any] = {"type": "response.create"}
        if params:
            event["response"] = as_plain(params)
        return await self.send(event)

    async def cancel_response(self, response_id: str | None = None) -> str:
        """Cancel the active response (or ``response_id``)."""
        event: dict[str, Any] = {"type": "response.cancel"}
        if response_id is not None:
            event["response_id"] = response_id
        return await self.send(event)

    async def clear_output_audio(self) -> str:
        """Stop playback of buffered output audio (WebRTC/SIP sessions)."""
        return await self.send({"type": "output_audio_buffer.clear"})

    async def update_session(
        self,
        config: Mapping[str, Any] | BaseModel,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the ack deadline is the API
    ) -> SessionUpdatedEvent:
        """Send ``session.update``; return the ``session.updated`` that answers it.

        Raises the classified error the server answered with (its ``param``
        names the field), or :class:`EventTimeout` after ``timeout`` seconds
        (default: the session's ``ack_timeout``) of a live connection: an outage
        pauses that clock and a resumed or rebuilt connection starts it again,
        because an unreachable server cannot answer (the reconnect events report
        the outage; a rebuild restores the update and answers it). Reconnecting
        is bounded by the policy, and giving up fails this call with its error.
        """
        event_id = new_event_id()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = (event_id, future)
        self._inbound.pending_updates.append(entry)
        limit = self.ack_timeout if timeout is None else timeout

        def timed_out() -> EventTimeout:
            return EventTimeout(
                f"the server did not answer session.update within {limit:g} s",
                event_id=event_id,
            )

        try:
            await self.send({"type": "session.update", "event_id": event_id, "session": config})
            result: SessionUpdatedEvent = await answered_while_connected(
                future, limit, self._outbound, timed_out
            )
            return result
        except BaseException:
            # Refused, timed out or abandoned: as far as the app knows it did not apply,
            # so a rebuild must not apply it either.
            self._inbound.asked.withdrawn(event_id)
            raise
        finally:
            self._inbound.pending_updates.remove(entry)
            release(future)  # also when send() failed after the session had ended
