"""The upstream session behind one relayed session: opened, rebuilt after a drop, rolled over.

Exactly one :class:`UpstreamLink` is current at a time; a pump task reads it
and hands each event to the :class:`Forwarder`. When the link drops, the
responses it was writing end as failed downstream (``response_failure.py``)
and a new upstream session is dialled and restored with the asked config and
the mirror's items, same ids (``upstream_rebuild.py``); client events that
arrive meanwhile are held (bounded) and sent, in order, once it is live. The
downstream connection never notices more than the failed response. Before the
upstream's own cap (``expires_at`` in its ``session.created``) the same
rebuild runs at the first moment no response is in progress, and the old
upstream session is closed once the new one is live (a rollover,
``upstream_rollover.py``, which holds this link's events back meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ...protocol.errors import RemoteProtocolError
from ...transports.base import INTERNAL_ERROR, TransportClosed
from ..host.backend import HostPort
from .response_failure import failed_responses, lost_error
from .upstream_link import DIAL_FAILURES, UpstreamLink
from .upstream_rebuild import UpstreamSession, greet, restore
from .upstream_rollover import Rollover

if TYPE_CHECKING:
    from ..config import ServerConfig
    from .asked_config import UpstreamAskedConfig
    from .forwarding import Forwarder
    from .relay_facts import RelayView
    from .upstream_settings import UpstreamSettings

log = logging.getLogger("rtagents.server.relay")
MAX_BACKOFF_S = 8.0


class UpstreamKeeper:
    """Owns the current upstream link of one relayed session."""

    def __init__(
        self,
        port: HostPort,
        config: ServerConfig,
        settings: UpstreamSettings,
        model: str | None,
        parts: tuple[UpstreamAskedConfig, Forwarder, RelayView],
        conversation_id: str,
    ) -> None:
        self.port = port
        self.config = config
        self.settings = settings
        self.model = model
        self.intent: str | None = None  # "transcription" for a transcription session
        self.asked, self.forwarder, self.view = parts
        self.conversation_id = conversation_id
        self.link: UpstreamLink | None = None
        self.ready = False
        self.rebuilds = 0
        self._dials = 0
        self._pending: deque[str] = deque()
        self.lock = asyncio.Lock()
        self.closed = False
        self.idle = asyncio.Event()
        self.idle.set()
        # Events of the current link held back (not forwarded) while a rollover builds the
        # next session: if any arrive, the old session moved on and the rollover waits.
        self.holding: list[Any] | None = None
        self.rollover = Rollover(self)
        self._fatal: asyncio.Task[Any] | None = None
        self.forwarder.on_idle = self._note_responses

    # --- opening -------------------------------------------------------------------

    async def open_first(self, greet: Callable[[], Awaitable[None]]) -> bool:
        """The first upstream session, with the initial config; False if it cannot be had.

        ``greet`` (the downstream ``session.created``) runs once the upstream is
        ready and before its events are read, so nothing can come before it.
        """
        async with self.lock:
            built = await self._build_with_retries(None)
            if built is None:
                return False
            self.view.session = built[1].session
            await greet()
            await self.go_live(*built)
            return True

    async def build(self, restore_items: bool) -> tuple[UpstreamLink, UpstreamSession]:
        """Dial, greet and restore one upstream session (closed again if that fails)."""
        self._dials += 1
        link = await UpstreamLink.open(self.settings, self.model, self._dials, self.intent)
        try:
            timeout = self.settings.ack_timeout_s
            started = await greet(link, timeout)
            conversation = self.port.conversation if restore_items else None
            started = await restore(link, started, self.asked.current, conversation, timeout)
        except BaseException:
            await link.close("relay setup failed")
            raise
        return link, started

    async def _build_with_retries(
        self, reason: str | None
    ) -> tuple[UpstreamLink, UpstreamSession] | None:
        failure: Exception | None = None
        for attempt in range(max(1, self.settings.rebuild_tries)):
            if attempt:
                await asyncio.sleep(
                    min(self.settings.backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S)
                )
            if self.closed:
                return None
            try:
                return await self.build(restore_items=reason is not None)
            except DIAL_FAILURES as exc:
                failure = exc
                log.warning(
                    "relay: upstream dial %d failed: %s",
                    attempt + 1,
                    exc,
                    extra={"session_id": self.port.session_id},
                )
        self._give_up(failure)
        return None

    async def go_live(self, link: UpstreamLink, started: UpstreamSession) -> None:
        self.link = link
        self.view.session = started.session
        self.port.spawn(self._pump(link), f"upstream-{link.number}")
        self.rollover.arm(link, started.expires_at)
        await self.release_pending(link)

    async def release_pending(self, link: UpstreamLink) -> None:
        """Held client events go out in order, before anything newer; then sends go direct."""
        while self._pending:
            text = self._pending[0]
            try:
                await link.send_text(text)
            except TransportClosed:
                return  # dropped again: the pump rebuilds, and these go out after that
            self._pending.popleft()
            self.view.pending_bytes -= len(text)
        self.ready = True

    # --- sending ---------------------------------------------------------------------

    async def send(self, text: str) -> None:
        """A client event upstream now, or held until the upstream is live again."""
        link = self.link
        if self.ready and link is not None:
            try:
                await link.send_text(text)
                return
            except TransportClosed:
                self.ready = False  # the pump sees the drop and rebuilds
        self._hold(text)

    def _hold(self, text: str) -> None:
        if self.view.pending_bytes + len(text) > self.settings.pending_bytes:
            raise RemoteProtocolError(
                "The relay's upstream connection is being rebuilt and "
                f"{self.view.pending_bytes} bytes of your events already wait for it "
                f"(limit {self.settings.pending_bytes}). This event was not sent: send it "
                "again in a moment.",
                code="upstream_reconnecting",
            )
        self._pending.append(text)
        self.view.pending_bytes += len(text)

    # --- reading, drops -------------------------------------------------------------

    async def _pump(self, link: UpstreamLink) -> None:
        while True:
            try:
                event = await link.recv()
            except TransportClosed as closed:
                # The link's transport keeps this error: with this frame in its traceback
                # it would hold this keeper (and the session) in a cycle.
                closed.with_traceback(None)
                if not self.closed and link is self.link:
                    await self._after_drop(link, closed)
                return
            if link is not self.link:
                return  # rolled over: the new upstream session speaks from now on
            if self.holding is not None:
                self.holding.append(event)
            else:
                await self._forward(event)

    async def _forward(self, event: Any) -> None:
        try:
            await self.forwarder.forward(event)
        except Exception:  # one event the relay fails on must not end the session
            log.exception("relay: forwarding an upstream %s failed", getattr(event, "type", "?"))

    async def _after_drop(self, link: UpstreamLink, closed: TransportClosed) -> None:
        async with self.lock:
            if self.closed or link is not self.link:
                return
            self.ready = False
            self.rebuilds += 1
            self.config.metrics.count_upstream_rebuild("drop")
            log.warning(
                "relay: upstream session %d dropped (%s); rebuilding it",
                link.number,
                closed,
                extra={"session_id": self.port.session_id, "reason": "drop"},
            )
            error = lost_error(str(closed))
            await self.port.emit_all(
                lambda: failed_responses(self.port.conversation, error, self.conversation_id)
            )
            self._note_responses()
            built = await self._build_with_retries("drop")
            if built is not None:
                await self.go_live(*built)
                self.log_rebuilt("drop", built[0])

    def _give_up(self, failure: Exception | None) -> None:
        """No upstream: close the downstream session saying why (from a task of its own)."""
        if self.closed or self._fatal is not None:
            return
        message = (
            f"The relay could not reach its upstream Realtime server after "
            f"{max(1, self.settings.rebuild_tries)} tries ({failure}); the session ends."
        )
        log.error("relay: %s", message, extra={"session_id": self.port.session_id})
        notice = RemoteProtocolError(message, code="upstream_unavailable")
        # Not a session task: shutting down cancels those, and this must run to its end.
        self._fatal = asyncio.create_task(
            self.port.shutdown(INTERNAL_ERROR, "upstream unavailable", notice=notice)
        )

    # --- for the rollover ---------------------------------------------------------

    def _note_responses(self) -> None:
        running = any(r.status == "in_progress" for r in self.port.conversation.responses.values())
        if running:
            self.idle.clear()
        else:
            self.idle.set()

    def stop_holding(self) -> list[Any]:
        """Forward normally again; the events held meanwhile (the caller forwards them)."""
        held, self.holding = self.holding or [], None
        return held

    async def forward_held(self, events: list[Any]) -> None:
        for event in events:
            await self._forward(event)

    def log_rebuilt(self, reason: str, link: UpstreamLink) -> None:
        log.info(
            "relay: upstream session %d is live after a %s (%d items restored)",
            link.number,
            reason,
            len(self.port.conversation),
            extra={"session_id": self.port.session_id, "reason": reason},
        )

    # --- ending ---------------------------------------------------------------------

    def let_go(self, port: HostPort) -> None:
        """The session ended: hold the host weakly (``port``), keep no link."""
        self.port = port
        self.link = None

    async def close(self) -> None:
        self.closed = True
        self.ready = False
        self.rollover.cancel()
        if self.link is not None:
            await self.link.close("session ended")
