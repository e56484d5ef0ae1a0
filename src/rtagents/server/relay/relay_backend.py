"""Relay mode's Backend: an upstream GA session answers, the host does the rest.

The host (``server/host``) keeps doing for a relayed session everything it
does for a local one: authentication and limits before the upgrade, decoding
and refusing client frames, the protocol rules with this backend's
:class:`RelayFacts`, the conversation mirror, resume, the session cap,
recording, metrics, logs. This backend only carries events: a client event
the host accepted goes upstream as it came (same ``event_id``, so upstream
errors name it), and each upstream event comes down through
:meth:`HostPort.emit` (``forwarding.py``). The upstream session is dialled
with the server-held key and kept alive across drops and its cap by the
:class:`UpstreamKeeper`.

Where policy plugs in: every client event reaches :meth:`RelayBackend.handle`
only after the host's rules gate (``host/rules_gate.py``) accepted it, and a
``session.update`` is recorded in :class:`UpstreamAskedConfig` before it goes
upstream; a gateway policy (allowed models, tools, forced fields, sizes)
refuses or rewrites events there, by raising a ``RealtimeError`` (the host
answers it with the event's ``event_id``) or by changing the event before
``_send``. The initial config (a secret's bound session) passes through
:func:`relay_backend`, where forced fields can be laid over it.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any, cast

from openai.types.realtime import ConversationCreatedEvent, SessionCreatedEvent
from pydantic import BaseModel

from ...protocol.audio import b64_decoded_length
from ...protocol.codec import encode_event
from ...protocol.errors import RealtimeError
from ...protocol.server_facts import SessionFacts
from .. import ids
from ..host.backend import BackendFactory, HostPort, PcmSink, ReceivedEvent
from ..host.wire_events import build
from .asked_config import UpstreamAskedConfig
from .forwarding import Forwarder
from .relay_facts import RelayFacts, RelayView
from .relay_media import RelayMedia
from .upstream_keeper import UpstreamKeeper

if TYPE_CHECKING:
    from ..local.session_config import SessionConfig
    from ..state import ServerState

log = logging.getLogger("rtagents.server.relay")


def relay_backend(state: ServerState, config: SessionConfig, *, bound: bool) -> BackendFactory:
    """The factory a host calls to get its relay backend.

    ``config`` is the session's initial config; ``bound``: it came from the
    client's secret (then it is sent upstream first), else the upstream's own
    defaults stand and only ``config.model`` is used (the URL's ``?model=``).
    """
    initial = dict(config.data) if bound else None

    def build_backend(port: HostPort) -> RelayBackend:
        backend = RelayBackend(port, state, config.model, initial)
        if config.kind == "transcription":  # the upstream opens one from the start
            backend.keeper.intent = "transcription"
        return backend

    return build_backend


class RelayBackend:
    """Answers one session with an upstream GA session opened with the server-held key."""

    wants_received = False  # as an observer it watches what is sent only

    def __init__(
        self,
        port: HostPort,
        state: ServerState,
        model: str | None,
        initial: dict[str, Any] | None,
    ) -> None:
        settings = state.config.upstream
        assert settings is not None, "relay_backend needs ServerConfig.upstream"
        self.port = port
        self.view = RelayView()
        self.asked = UpstreamAskedConfig(initial)
        self.media = RelayMedia(port, self.view, self._send_own)
        self.conversation_id = ids.conversation_id()
        self.forwarder = Forwarder(port, self.view, self.asked, self.media, self.conversation_id)
        parts = (self.asked, self.forwarder, self.view)
        self.keeper = UpstreamKeeper(
            port, state.config, settings, model, parts, self.conversation_id
        )
        self._facts = RelayFacts(port, self.view, state.config.limits)
        self._dropping = False  # own events are being dropped (the rebuild queue is full)
        port.add_observer(self)  # truncates the call's playback emits go upstream too

    # --- Backend -----------------------------------------------------------------

    async def start(self) -> None:
        # When no upstream can be had, the keeper closes the session, saying why.
        await self.keeper.open_first(self._greet)

    async def _greet(self) -> None:
        """``session.created`` (the upstream's session as this one), ``conversation.created``."""
        self.port.conversation.set_output_format(self.view.output_format.to_wire())
        log.info(
            "relay answers with an upstream session",
            extra={"session_id": self.port.session_id, "model": self.keeper.model},
        )
        session = self.forwarder.session_data()
        await self.port.emit(build(SessionCreatedEvent, session=session))
        conversation = {"id": self.conversation_id, "object": "realtime.conversation"}
        await self.port.emit(build(ConversationCreatedEvent, conversation=conversation))

    async def handle(self, event: Any) -> None:
        kind = event.type
        if kind == "output_audio_buffer.clear" and self.media.sink is not None:
            await self.media.sink.clear()  # the call's playback: nothing upstream plays it
            return
        if kind == "session.update" and event.event_id is not None:
            update = event.session.model_dump(mode="json", exclude_unset=True, by_alias=True)
            self.asked.sent(event.event_id, update)
        elif kind == "input_audio_buffer.append":
            self.view.buffered_bytes += b64_decoded_length(event.audio)
        await self.keeper.send(encode_event(event))

    def facts(self) -> SessionFacts:
        return self._facts

    async def close(self) -> None:
        await self.keeper.close()

    def let_go(self) -> None:
        """The host has ended (its observers told): break this session's reference cycles.

        Its parts hold the host and each other's bound methods; left so, an ended
        relayed session waits for a full collection, which stops every session of
        the process (docs/benchmarks.md, "A new machine"). Nothing runs after this.
        """
        port = cast("HostPort", weakref.proxy(self.port))
        self.port = port
        self.media.let_go(port)
        self.forwarder.let_go(port)
        self.keeper.let_go(port)
        self._facts.let_go(port)

    # --- MediaBackend --------------------------------------------------------------

    async def receive_pcm(self, pcm16: bytes, rate: int) -> None:
        await self.media.receive(pcm16, rate)

    def set_audio_out(self, sink: PcmSink | None) -> None:
        self.media.route_to(sink)

    # --- Observer: what the host emits on its own --------------------------------------

    def on_sent(self, event: BaseModel, error: RealtimeError | None) -> None:
        """A call stopped playback and truncated an item: the upstream must truncate it too."""
        if (
            self.forwarder.forwarding
            or getattr(event, "type", None) != "conversation.item.truncated"
        ):
            return
        item_id = getattr(event, "item_id", "")
        self.forwarder.truncating.add(item_id)
        truncate = {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": getattr(event, "content_index", 0),
            "audio_end_ms": getattr(event, "audio_end_ms", 0),
        }
        self.port.spawn(self._send_own(truncate), "upstream-truncate")

    def on_received(self, inbound: ReceivedEvent) -> None:
        """Client events reach the upstream through :meth:`handle`."""

    async def _send_own(self, event: dict[str, Any]) -> None:
        """An event the relay sends upstream on its own (its answers are not the client's).

        A call's audio and truncates come from the call's tasks, not from a client
        event: when the rebuild queue is full, the event is dropped (and said once per
        rebuild) instead of failing the call's audio.
        """
        event_id = "relay_" + ids.event_id()
        self.forwarder.remember_own(event_id)
        try:
            await self.keeper.send(encode_event({**event, "event_id": event_id}))
        except RealtimeError as exc:
            if not self._dropping:
                log.warning("relay: dropping the call's %s: %s", event["type"], exc.message)
            self._dropping = True
            return
        self._dropping = False
