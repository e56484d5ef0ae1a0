"""``rtagents.connect``: the entry point of the client SDK.

``async with connect(url, credentials=...) as session:`` authenticates, opens
the transport, waits for ``session.created`` (and ``session.updated`` when a
config is given) and closes the session on exit, however the block ends.
``session = await connect(...)`` works too, leaving the close to the caller.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping
from types import TracebackType
from typing import Any, Literal

from pydantic import BaseModel

from ..observability.recording_format import transport_kind
from ..protocol.errors import ConnectionFailure, Origin
from .credentials import Credentials
from .opening import TransportOpener, open_transport, realtime_url
from .policy import ReconnectPolicy
from .session import Session
from .session_parts import Clock
from .session_recording import SessionRecording


def connect(
    url: str,
    *,
    credentials: Credentials,
    model: str | None = None,
    call_id: str | None = None,
    session: Mapping[str, Any] | BaseModel | None = None,
    transport: Literal["websocket", "webrtc"] | TransportOpener = "websocket",
    headers: Mapping[str, str] | None = None,
    open_timeout: float = 10.0,
    ack_timeout: float = 10.0,
    reconnect: ReconnectPolicy | bool | None = None,
    stall_timeout: float | None = 30.0,
    tool_timeout: float = 30.0,
    clock: Clock | None = None,
    record: str | os.PathLike[str] | None = None,
    record_audio: Literal["elided", "inline", "beside"] = "elided",
) -> SessionConnector:
    """Connect to a GA Realtime server: OpenAI's or rtagents' (only URL and key differ).

    ``credentials`` is an API key or ``ek_`` client secret, or a callable (sync or
    async) returning one; it is called on every connect, so it can mint a fresh
    ephemeral secret each time. ``model`` is added to the URL's query unless the
    URL has one. ``session`` is an initial config sent as ``session.update``
    before the block starts. ``transport`` is ``"websocket"``, ``"webrtc"`` (a
    call to ``/v1/realtime/calls``, events on its data channel; pass a
    :class:`rtagents.client.webrtc_call.WebRTCCall` instead to send and receive its
    audio too) or an opener ``(url, headers, open_timeout) -> Transport``.

    ``reconnect`` (a :class:`ReconnectPolicy`, or True for the defaults) turns on
    bounded reconnects with resume (rtagents) or rebuild (any server), and the
    proactive rollover before the session cap; see ``docs/reliability.md``.
    ``stall_timeout``: seconds of server silence during a response before a
    ``response_stalled`` error (None: never). ``tool_timeout``: the default
    deadline of tools registered with ``session.tools.register``. ``clock``
    (tests: a :class:`rtagents.testing.FakeClock`) is the time the stall
    watchdog and the rollover read and wait on.

    ``record``: a file path; the session's every frame sent and received, its
    lifecycle, classified failures, latency marks and close are written there
    (docs/recording.md); ``record_audio`` keeps audio ``elided`` (length and
    CRC-32C), ``inline`` or ``beside`` the file. Credentials are never written.

    ``call_id`` (an ``rtc_…`` id from a call's ``Location``) attaches a sideband
    WebSocket to that live call (``?call_id=``; authenticate with the API key):
    the session sees every event of the call's session and may steer it. No
    ``session.created`` comes on a sideband (the call got it), so opening sends
    ``session.update`` (``session``, or just the session type) and takes the
    effective config from its ``session.updated``. A sideband needs no
    ``model`` (the call's session has one) and does not reconnect.
    """
    if call_id is not None:
        _check_sideband(model=model, transport=transport, reconnect=reconnect)
    policy = ReconnectPolicy() if reconnect is True else (reconnect or None)
    if transport == "websocket":
        opener: TransportOpener = open_transport
    elif transport == "webrtc":
        from .webrtc_call import WebRTCCall  # aiortc is the optional [webrtc] extra

        opener = WebRTCCall()
    elif callable(transport):
        opener = transport
    else:
        raise ConnectionFailure(
            f"unknown transport {transport!r}; use 'websocket', 'webrtc' or an opener callable",
            origin=Origin.LOCAL,
            code="invalid_value",
        )
    full_url = realtime_url(url, model, call_id=call_id)
    recording = None
    if record is not None:
        # An opener object names its kind (a WebRTCCall); each event record has the real one.
        kind = transport if isinstance(transport, str) else transport_kind(transport)
        recording = SessionRecording(record, url=full_url, transport=kind, audio=record_audio)
        opener = recording.wrap(opener)
    created = Session(
        full_url,
        credentials=credentials,
        config=session,
        headers=headers,
        open_timeout=open_timeout,
        ack_timeout=ack_timeout,
        opener=opener,
        reconnect=policy,
        stall_timeout=stall_timeout,
        tool_timeout=tool_timeout,
        clock=clock,
    )
    if recording is not None:
        created.lifecycle.subscribe(recording.on_transition)
    return SessionConnector(created)


def _check_sideband(*, model: str | None, transport: object, reconnect: object) -> None:
    """Refuse what a sideband cannot be: a new session, a WebRTC call, a reconnecting one."""
    why = None
    if model is not None:
        why = "pass model or call_id, not both: a sideband joins the call's session and its model"
    elif transport != "websocket":
        why = "a sideband (call_id) is a WebSocket; leave transport as 'websocket'"
    elif reconnect:
        why = (
            "a sideband (call_id) does not reconnect: resuming or rebuilding would "
            "act on the call's session; open a new sideband if it drops"
        )
    if why is not None:
        raise ConnectionFailure(why, origin=Origin.LOCAL, code="invalid_value")


class SessionConnector:
    """What :func:`connect` returns: an async context manager, or an awaitable."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def __aenter__(self) -> Session:
        return await self.session.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.session.close()

    def __await__(self) -> Generator[Any, None, Session]:
        return self.session.open().__await__()
