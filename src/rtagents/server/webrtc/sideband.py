"""``GET /v1/realtime?call_id=…``: a server-side WebSocket attached to a live call.

The application's backend keeps tools, instructions and secrets off the
caller's device by attaching here with the API key: it receives every server
event the call's session emits and may send client events (``session.update``,
tool outputs, ``response.create``) into the same session. The socket closes
with 1000 and a reason when the call ends; closing the socket leaves the call
running. An unknown call id is refused with 404 before the upgrade. With
``--redis`` a call held by another node is found in the call registry and
the sideband is bridged to that node (server/stores/redis_calls.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket

from ...protocol.codec import encode_event
from ...protocol.errors import ConnectionFailure, Origin
from ...transports.base import NORMAL_CLOSURE, TransportClosed
from ..auth import BROWSER_PROTOCOL, Refusal, bearer_credential, subprotocol_credential
from ..host.wire_events import error_event
from ..state import ServerState
from .endpoints import unknown_call

if TYPE_CHECKING:
    from .call import AnsweredCall
from ..ws import StarletteTransport

log = logging.getLogger("rtagents.server.webrtc.sideband")
Deny = Callable[[WebSocket, Refusal], Awaitable[None]]
MAX_CLOSE_REASON_BYTES = 123  # a WebSocket close reason's limit


async def serve_sideband(
    websocket: WebSocket, state: ServerState, offered: list[str], deny: Deny
) -> None:
    """Authenticate (API key only), find the call, then relay until either ends."""
    call_id = websocket.query_params["call_id"]
    try:
        credential = bearer_credential(websocket.headers) or subprotocol_credential(offered)
        principal = await state.authenticator.authenticate(credential)
        if principal.kind != "api_key":
            raise Refusal(
                403,
                "insufficient_permissions",
                "A sideband connection needs the server API key: a client secret belongs on "
                "the caller's device, the sideband on your backend.",
            )
        call = state.calls.get(call_id)
        remote = None
        if call is None and state.shared is not None:  # --redis: held by another node?
            remote = await state.shared.calls.holder(call_id)
        if remote is None and (call is None or call.ended.is_set()):
            raise unknown_call(call_id)
    except Refusal as exc:
        log.info("refused a sideband for %s: %s %s", call_id, exc.status, exc.code)
        await deny(websocket, exc)
        return
    if call is None:  # held by another node: bridged to it through Redis
        assert state.shared is not None
        await websocket.accept(
            subprotocol=BROWSER_PROTOCOL if BROWSER_PROTOCOL in offered else None
        )
        log.info("sideband for call %s bridged to node %s", call_id, remote)
        await state.shared.calls.bridge(StarletteTransport(websocket), call_id)
        return
    await websocket.accept(subprotocol=BROWSER_PROTOCOL if BROWSER_PROTOCOL in offered else None)
    sideband = StarletteTransport(websocket)
    if not call.connected.is_set():  # attached right after the offer: wait for the caller
        await _until_connected_or_ended(call, state.config.call_connect_timeout_s)
    target = call.transport
    if target is None or call.host is None or target.closed:
        await _never_connected(sideband, call)
        return
    target.sidebands.add(sideband)
    log.info("sideband attached to call %s", call_id)
    try:
        while True:
            target.deliver_from_sideband(await sideband.recv())
    except TransportClosed:
        pass
    finally:
        target.sidebands.discard(sideband)
        await sideband.close(NORMAL_CLOSURE, "")


async def _until_connected_or_ended(call: AnsweredCall, limit_s: float) -> None:
    """Wait for the caller to connect, but not past the call's end (or ``limit_s``)."""
    waits = [asyncio.ensure_future(call.connected.wait()), asyncio.ensure_future(call.ended.wait())]
    try:
        await asyncio.wait(waits, timeout=limit_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


async def _never_connected(sideband: StarletteTransport, call: AnsweredCall) -> None:
    """Tell a sideband whose call ended before it connected why (or that it has not yet)."""
    error = call.failure
    if error is None:
        why = call.end_reason or "the caller has not connected yet"
        message = f"The call {call.id} has no live session to attach to: {why}."
        error = ConnectionFailure(message, origin=Origin.REMOTE, code="webrtc_connection_failed")
    with contextlib.suppress(TransportClosed):
        await sideband.send(encode_event(error_event(error, error_type="server_error")))
    reason = f"call ended: {call.end_reason or 'not connected'}".encode()
    await sideband.close(NORMAL_CLOSURE, reason[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore"))
