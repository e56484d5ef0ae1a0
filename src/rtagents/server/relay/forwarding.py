"""Upstream events to the downstream client, through the host (mirror, resume log, observers).

Almost every event goes down as the upstream sent it (same ``event_id``, same
item and response ids), so the host's conversation mirror is the upstream's
conversation. The exceptions: the session's ``id`` and ``expires_at`` are the
relayed session's own (it outlives every upstream session behind it); the
upstream's greetings after a rebuild are absorbed; answers to events the
relay itself sent are absorbed; and on a WebRTC call the output audio plays
on the call's track instead of going out as deltas.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from openai.types.realtime import SessionUpdatedEvent
from pydantic import BaseModel

from ...protocol.codec import InvalidEvent, UnknownEvent
from ...protocol.errors import RealtimeError, error_from_payload
from ..host.backend import HostPort
from .asked_config import UpstreamAskedConfig
from .relay_facts import RelayView
from .response_failure import INVALID_CODE, failed_response

if TYPE_CHECKING:
    from .relay_media import RelayMedia

log = logging.getLogger("rtagents.server.relay")
_ABSORBED = frozenset({"session.created", "conversation.created"})
_BUFFER_RESETS = frozenset({"input_audio_buffer.committed", "input_audio_buffer.cleared"})
_RESPONSE_EDGES = frozenset({"response.created", "response.done"})
# Errors about the upstream session's own life, which the relay outlives.
_UPSTREAM_ONLY = frozenset({"session_expired"})
# Ids of events the relay sent upstream on its own (appends of a call, truncates): their
# errors are the relay's to log, not the client's to read. Oldest forgotten first.
OWN_IDS_KEPT = 256


class Forwarder:
    """Turns each upstream event into what the downstream client gets (often the same)."""

    def __init__(
        self,
        port: HostPort,
        view: RelayView,
        asked: UpstreamAskedConfig,
        media: RelayMedia,
        conversation_id: str,
    ) -> None:
        self.port = port
        self.conversation_id = conversation_id
        self.view = view
        self.asked = asked
        self.media = media
        self.own_ids: dict[str, None] = {}
        self.truncating: set[str] = set()  # items the relay asked the upstream to truncate
        self.forwarding = False  # an upstream event is being emitted now (observers read it)
        self.on_idle: Any = None  # called when no response is in progress any more

    def let_go(self, port: HostPort) -> None:
        """The session ended: hold the host weakly (``port``) and call back no one."""
        self.port = port
        self.on_idle = None

    def remember_own(self, event_id: str) -> None:
        self.own_ids[event_id] = None
        if len(self.own_ids) > OWN_IDS_KEPT:
            del self.own_ids[next(iter(self.own_ids))]

    async def forward(self, event: Any) -> None:
        kind = getattr(event, "type", None)
        if isinstance(event, InvalidEvent):
            await self._invalid(event)
            return
        if kind in _ABSORBED:
            return
        if kind == "response.output_audio.delta":
            self.view.audio_produced = True
            if self.media.play(event):
                return
        elif kind == "session.updated":
            self.asked.confirmed()
            event = self._own_session(event)
        elif kind == "error":
            await self._error(event)
            return
        elif kind == "conversation.item.truncated" and event.item_id in self.truncating:
            self.truncating.discard(event.item_id)
            return  # the call already emitted it when it stopped playing
        elif kind in _BUFFER_RESETS:
            self.view.buffered_bytes = 0
        await self._emit(event)
        if kind in _RESPONSE_EDGES and self.on_idle is not None:
            self.on_idle()

    async def _invalid(self, event: InvalidEvent) -> None:
        """An upstream event that does not fit the schema is not passed on; a ``response.done``
        is replaced by a failed one, so the client's response ends instead of hanging."""
        log.warning("relay: the upstream sent an invalid %s event: %s", event.type, event.error)
        response = (event.data or {}).get("response") if event.type == "response.done" else None
        response_id = response.get("id") if isinstance(response, dict) else None
        if not isinstance(response_id, str):
            return
        record = self.port.conversation.responses.get(response_id)
        if record is None or record.status != "in_progress":
            return
        done = failed_response(
            self.port.conversation, response_id, INVALID_CODE, self.conversation_id
        )
        await self._emit(done)
        if self.on_idle is not None:
            self.on_idle()

    def _own_session(self, event: Any) -> SessionUpdatedEvent:
        """The upstream's session under the relayed session's id and cap."""
        self.view.session = event.session
        return SessionUpdatedEvent.model_validate(
            {"type": event.type, "event_id": event.event_id, "session": self.session_data()}
        )

    def session_data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.view.session.model_dump(
            mode="json", exclude_unset=True, by_alias=True
        )
        data["id"] = self.port.session_id
        data["expires_at"] = self.port.expires_at
        return data

    async def _error(self, event: Any) -> None:
        wire = event.error
        if wire.event_id is not None and wire.event_id in self.own_ids:
            log.warning(
                "the upstream refused an event the relay sent (%s): %s", wire.code, wire.message
            )
            return
        if wire.code in _UPSTREAM_ONLY:
            # The upstream's cap, not this session's: the drop that follows is rebuilt.
            log.info("relay: the upstream said %s: %s", wire.code, wire.message)
            return
        self.asked.refused(wire.event_id)
        error = error_from_payload(
            error_type=wire.type,
            code=wire.code,
            message=wire.message,
            param=wire.param,
            event_id=wire.event_id,
        )
        await self._emit(event, error)

    async def _emit(self, event: Any, error: RealtimeError | None = None) -> None:
        self.forwarding = True
        try:
            if isinstance(event, UnknownEvent):
                # A type this version does not know: passed on as the upstream sent it (the
                # codec encodes it back to its raw fields; the mirror ignores its type). Not
                # a model, so it goes as a builder, which emit calls.
                unknown = cast(BaseModel, event)
                await self.port.emit(lambda: unknown, error=error)
            else:
                await self.port.emit(event, error=error)
        finally:
            self.forwarding = False
