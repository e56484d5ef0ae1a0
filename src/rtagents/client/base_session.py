"""The part of a client session every connection has: opening, closing, the tasks.

Closing is the contract users care most about: ``close()`` is idempotent, wakes
every waiter, ends ``async for`` and stops every task the session started,
whatever state it was in (opening, active, reconnecting).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Literal, Self, TypedDict, TypeVar

from pydantic import BaseModel

from ..observability.logging import EventLog
from ..protocol.errors import ConnectionFailure, LocalProtocolError, Origin, RealtimeError
from ..protocol.lifecycle import Lifecycle, State, Transition, Trigger
from ..transports.base import NORMAL_CLOSURE, Transport
from .commands import SessionCommands, as_plain
from .consuming import Consuming
from .credentials import Credentials, resolve_credentials
from .events import LIFECYCLE, LifecycleEvent, new_event_id
from .inbound import Inbound, classify, describe_close
from .opening import TransportOpener, open_transport

if TYPE_CHECKING:
    from ..protocol.conversation import Conversation

log = logging.getLogger("rtagents.client.session")
T = TypeVar("T")


class SessionOptions(TypedDict, total=False):
    """The keyword arguments :class:`SessionBase` takes besides ``url`` and ``credentials``.

    Subclasses pass them through as ``**options: Unpack[SessionOptions]``, so
    each is declared (with its default) once, here and in ``SessionBase``.
    """

    config: Mapping[str, Any] | BaseModel | None
    headers: Mapping[str, str] | None
    open_timeout: float
    ack_timeout: float
    opener: TransportOpener
    stream_capacity: int
    drain_timeout: float


class SessionBase(SessionCommands, Consuming):
    """Opening, closing and task bookkeeping; :class:`~.session.Session` adds the rest."""

    def __init__(
        self,
        url: str,
        *,
        credentials: Credentials,
        config: Mapping[str, Any] | BaseModel | None = None,
        headers: Mapping[str, str] | None = None,
        open_timeout: float = 10.0,
        ack_timeout: float = 10.0,
        opener: TransportOpener = open_transport,
        stream_capacity: int = 10_000,
        drain_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.open_timeout = open_timeout
        self.ack_timeout = ack_timeout
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._credentials = credentials
        self._initial_config = as_plain(config) if config is not None else None
        self._headers = dict(headers or {})
        self._opener = opener
        self._drain_timeout = drain_timeout
        self._log = EventLog(new_event_id().replace("evt_", "cs_", 1), side="client")
        self._inbound = Inbound(self._log, stream_capacity=stream_capacity)
        self._lifecycle = Lifecycle()
        self._lifecycle.subscribe(self._on_transition)
        self._transport: Transport | None = None
        self._reader: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # While opening: set by the reader when the transport of this try is lost.
        self._opening_lost: asyncio.Future[ConnectionFailure] | None = None
        self._closing = False
        self._finished = asyncio.Event()

    def __repr__(self) -> str:
        server_id = f" {self.session_id}" if self.session_id else ""
        return f"<Session {self.state}{server_id} {self.url}>"

    @property
    def state(self) -> State:
        return self._lifecycle.state

    @property
    def lifecycle(self) -> Lifecycle:
        """The state machine; ``lifecycle.history`` lists the recent transitions."""
        return self._lifecycle

    @property
    def conversation(self) -> Conversation:
        """The client's mirror of the server's conversation, item by item."""
        return self._inbound.conversation

    @property
    def config(self) -> Any:
        """The effective session config, from the last ``session.created``/``updated``."""
        return self._inbound.config

    @property
    def session_id(self) -> str | None:
        """The server's session id, when it sends one (OpenAI and rtagents do)."""
        value = getattr(self._inbound.config, "id", None)
        return value if isinstance(value, str) else None

    @property
    def errors(self) -> list[RealtimeError]:
        """The latest classified errors received (server ``error`` events, invalid events)."""
        return list(self._inbound.errors)

    @property
    def closed(self) -> bool:
        """True once the session has ended (closed by either side, or failed)."""
        return self._finished.is_set()

    # -- hooks ------------------------------------------------------------------------

    def _open_headers(self) -> dict[str, str]:
        return {}

    def _on_transport_opened(self, transport: Transport) -> None:
        """The first transport is open (the session is not configured yet)."""

    def _on_opened(self, transport: Transport) -> None:
        """The first transport is open and the session configured."""

    async def _read_loop(self, transport: Transport) -> None:
        raise NotImplementedError

    def _extra_stop(self) -> None:
        """Stop work of the subclass when the session ends (called once)."""

    # -- opening ----------------------------------------------------------------------

    async def open(self) -> Self:
        """Authenticate, open the transport, and wait until the session is configured."""
        if self._lifecycle.state is not State.IDLE:
            raise LocalProtocolError(
                f"open() was already called (the session is {self.state})", code="invalid_state"
            )
        try:
            self._advance(Trigger.START)
            attempt = 1
            while True:
                try:
                    await self._open_once(first=attempt == 1)
                    break
                except Exception as exc:
                    delay = self._open_retry_delay(exc, attempt)
                    if delay is None:
                        raise
                    await self._before_open_retry(exc, attempt + 1, delay)
                    attempt += 1
            self._advance(Trigger.CONFIGURED)
            assert self._transport is not None
            self._on_opened(self._transport)
        except BaseException as exc:
            await self._abort(exc)
            raise
        return self

    async def _open_once(self, *, first: bool) -> None:
        """One try at opening: credentials, transport, ``session.created`` (+ config)."""
        key = await resolve_credentials(self._credentials)
        if first:
            self._advance(Trigger.AUTHENTICATED)
        headers = {**self._headers, **self._open_headers(), "Authorization": f"Bearer {key}"}
        transport = self._transport = await self._opener(self.url, headers, self.open_timeout)
        self._advance(Trigger.TRANSPORT_OPENED)
        self._on_transport_opened(transport)
        lost = self._opening_lost = asyncio.get_running_loop().create_future()
        # Created before the reader, so its waiter for session.created is in place
        # before the reader runs (the first frame may come with the handshake).
        configure = asyncio.ensure_future(self._configure())
        if first:
            self._start_tasks(transport)
        else:
            self._reader = self._spawn(self._read_loop(transport), "rtagents-reader")
        try:
            await asyncio.wait({configure, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._opening_lost = None
            if not configure.done():
                configure.cancel()
                await asyncio.wait({configure})
        if configure.cancelled() and lost.done():
            raise lost.result()
        configure.result()

    def _open_retry_delay(self, error: BaseException, attempt: int) -> float | None:
        """Seconds before another try at opening after ``error``; None: give up."""
        return None

    async def _before_open_retry(self, error: BaseException, attempt: int, delay: float) -> None:
        """Let go of the failed try and wait ``delay`` (the subclass reports it)."""

    def _advance(self, trigger: Trigger) -> None:
        """One step of opening, unless ``close()`` was called while we awaited."""
        if self._closing:
            raise ConnectionFailure(
                "the session was closed by the client while opening",
                origin=Origin.LOCAL,
                code="session_closed",
            )
        self._lifecycle.fire(trigger)

    async def _configure(self) -> None:
        """Wait for ``session.created``, then apply the initial config if one was given."""
        first = await self.wait_for(("session.created", "error"), timeout=self.ack_timeout)
        error = classify(first)
        if error is not None:
            raise error
        if self._initial_config is not None:
            await self.update_session(self._initial_config)

    def _start_tasks(self, transport: Transport) -> None:
        self._reader = self._spawn(self._read_loop(transport), "rtagents-reader")
        self._dispatcher = asyncio.create_task(
            self._inbound.dispatch_loop(), name="rtagents-handlers"
        )

    def _spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """A background task of this session: cancelled (and awaited) when it ends."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_report_crash)
        return task

    async def __aenter__(self) -> Self:
        if self._lifecycle.state is State.IDLE:
            await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> Literal[False]:
        await self.close()
        return False

    # -- closing ----------------------------------------------------------------------

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the session; idempotent. Wakes every waiter and ends ``async for``."""
        if self._closing or self._finished.is_set():
            await self._finished.wait()
        else:
            self._closing = True
            if self._lifecycle.can(Trigger.CLOSE_REQUESTED):
                self._lifecycle.fire(
                    Trigger.CLOSE_REQUESTED, cause=f"close({code}) called by the client"
                )
            await self._close_transport(code, reason)
            self._record_close(code, reason)
            if self._lifecycle.can(Trigger.TRANSPORT_CLOSED):
                self._lifecycle.fire(Trigger.TRANSPORT_CLOSED, cause="closed by the client")
            self._finish("the session was closed by the client")
        await self._stop_tasks()

    async def _abort(self, exc: BaseException) -> None:
        """Opening failed: record why, release everything, end in FAILED."""
        if not self._closing and self._lifecycle.can(Trigger.FATAL):
            self._lifecycle.fire(Trigger.FATAL, cause=f"{type(exc).__name__}: {exc}")
        self._closing = True
        await self._close_transport(NORMAL_CLOSURE, "")
        self._finish(f"opening the session failed: {exc}")
        await self._stop_tasks()

    async def _close_transport(self, code: int, reason: str) -> None:
        if self._transport is None:
            return
        try:
            await self._transport.close(code, reason)
        except Exception:  # best effort: the session ends either way
            log.debug("closing the transport failed", exc_info=True)

    def _record_close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason

    def _finish(self, why: str) -> None:
        """The session is over: wake everyone who waits on it, exactly once."""
        self._finish_with(
            ConnectionFailure(
                why + describe_close(self.close_code, self.close_reason),
                origin=Origin.LOCAL,
                code="session_closed",
            )
        )

    def _finish_with(self, error: RealtimeError) -> None:
        if self._finished.is_set():
            return
        self._extra_stop()
        self._inbound.finish(error)
        self._finished.set()

    async def _stop_tasks(self) -> None:
        current = asyncio.current_task()
        others = [t for t in self._tasks if t is not current and not t.done()]
        for task in others:
            task.cancel()
        if others:
            await asyncio.wait(others)
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher is not current and not dispatcher.done():
            # Handlers first see the final events (the last lifecycle change).
            await asyncio.wait({dispatcher}, timeout=self._drain_timeout)
            if not dispatcher.done():
                dispatcher.cancel()
                await asyncio.wait({dispatcher})

    def _on_transition(self, transition: Transition) -> None:
        t = transition
        self._log.lifecycle(str(t.source), str(t.target), str(t.trigger), t.cause)
        event = LifecycleEvent(source=t.source, target=t.target, trigger=t.trigger, cause=t.cause)
        self._inbound.emit(LIFECYCLE, event)


def _report_crash(task: asyncio.Task[Any]) -> None:
    """A background task died of a bug: say so (and mark the exception retrieved)."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("session task %s failed", task.get_name(), exc_info=exc)
