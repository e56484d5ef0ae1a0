"""Opening a Realtime WebSocket: refuse clearly, or accept and host a session.

Every refusal happens *before* the upgrade, as an HTTP response with a JSON
``error`` body (the WebSocket denial response extension, which uvicorn
supports), so a client sees a status code and a reason instead of an
unexplained close. Servers without the extension get accept + close 1008.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from ..protocol.beta import BETA_HEADER
from ..transports.base import GOING_AWAY, POLICY_VIOLATION
from .auth import BROWSER_PROTOCOL, Refusal, bearer_credential, subprotocol_credential
from .drain import draining_refusal
from .held_place import HeldPlace
from .host.session_host import SessionHost
from .host.session_resume import TOKEN_HEADER, Claim, resume_request, wants_resume
from .local.session_config import Kind, SessionConfig, validated
from .policy.session_configs import admitted_config
from .session_backend import session_backend
from .state import ServerState
from .webrtc.sideband import serve_sideband
from .ws import StarletteTransport

if TYPE_CHECKING:
    from .stores.redis_takeover import Takeover

log = logging.getLogger("rtagents.server.connect")
# A close frame holds 125 bytes: the 2-byte code and at most 123 of reason.
MAX_CLOSE_REASON_BYTES = 123


async def serve_websocket(websocket: WebSocket, state: ServerState) -> None:
    """Authenticate, pick the initial config, then run the session to its end."""
    offered = list(websocket.scope.get("subprotocols") or [])
    if state.draining:  # server/drain.py: the client reconnects through the balancer
        await _deny(websocket, draining_refusal())
        return
    if "call_id" in websocket.query_params:  # a sideband on a WebRTC call
        await serve_sideband(websocket, state, offered, _deny)
        return
    slot = state.admission.slot()  # the connection cap; a resume takes none (host/admission.py)
    try:
        claim = await _claim_resume(websocket, state, offered)
        if claim is None:
            slot.take()  # 503 too_many_connections, before a secret's use is spent
        admitted = None if claim else await _admit(websocket, state, offered)
    except Refusal as exc:
        slot.release()
        if TOKEN_HEADER in websocket.headers:  # a refused resume: the client has to rebuild
            state.config.metrics.count_resume("refused")
        log.info(
            "refused a Realtime connection: %s %s",
            exc.status,
            exc.code,
            extra={"status": exc.status, "code": exc.code, "outcome": "refused"},
        )
        await _deny(websocket, exc)
        return
    subprotocol = BROWSER_PROTOCOL if BROWSER_PROTOCOL in offered else None
    if isinstance(claim, Claim):
        await _resume(websocket, claim, subprotocol)
        return
    if claim is not None:  # a session whose node died, rebuilt here from Redis
        from .stores.redis_takeover import serve_takeover

        await serve_takeover(websocket, state, claim, subprotocol)
        return
    assert admitted is not None
    config, owner, quota = admitted
    with slot, quota:  # held until the session ends, a detached (resumable) one included
        backend = session_backend(state, config)
        transport = StarletteTransport(websocket)
        host = SessionHost(transport, state.config, backend, roster=state.sessions)
        headers: list[tuple[bytes, bytes]] = []
        if wants_resume(websocket.headers, state.config.resume_grace_s):
            headers = host.offer_resume(state.resumes, owner).response_headers()
        await websocket.accept(subprotocol=subprotocol, headers=headers)
        await host.run()


async def _claim_resume(
    websocket: WebSocket, state: ServerState, offered: list[str]
) -> Claim | Takeover | None:
    """For a resume request, the session it takes over (its old connection stops here).

    Only the principal that opened the session may take it over; every check
    comes before the claim, so a refused attempt leaves the session as it was.
    A resume opens no new session: a secret's session count is not touched.
    """
    if TOKEN_HEADER not in websocket.headers:
        return None
    credential = bearer_credential(websocket.headers) or subprotocol_credential(offered)
    principal = await state.authenticator.identify(credential)  # 401 before anything else
    request = resume_request(websocket.headers)
    assert request is not None
    try:
        resumable = state.resumes.find(request.token, principal.owner)
    except Refusal as refused:  # --redis: the session may live (or have died) on another node
        if state.shared is None or refused.code != "resume_unknown":
            raise
        from .stores.redis_takeover import claim_elsewhere

        registry = state.resumes
        return await claim_elsewhere(registry, request.token, principal.owner, request.last_seq)  # type: ignore[arg-type]
    received = resumable.claim(request.last_seq, request.token)
    return Claim(resumable, request.last_seq, received=received)


async def _resume(websocket: WebSocket, claim: Claim, subprotocol: str | None) -> None:
    """Serve a resumed session on this connection until the host lets go of it."""
    headers = claim.resumable.response_headers(received=claim.received)
    await websocket.accept(subprotocol=subprotocol, headers=headers)
    transport = StarletteTransport(websocket)
    attachment = claim.resumable.offer(transport, claim.last_seq)
    await attachment.released.wait()
    # Released without being closed: superseded by a newer resume before the host
    # took it, or the session ended meanwhile. 1001 tells the client to rebuild.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(transport.close(GOING_AWAY, "session ended"), 1.0)


async def _admit(
    websocket: WebSocket, state: ServerState, offered: list[str]
) -> tuple[SessionConfig, str, HeldPlace]:
    """The new session's config, its owner (the principal that opens it), its quota ticket.

    The gateway policy (server/policy) is asked before a secret's use is spent:
    the model, the principal's quotas, then its forced fields on the config.
    """
    beta = websocket.headers.get(BETA_HEADER)
    if beta is not None and "realtime" in beta:
        raise Refusal(
            400,
            "beta_protocol_retired",
            f"The 'OpenAI-Beta: {beta}' header asks for the retired beta Realtime protocol. "
            "This server speaks the GA protocol, which needs no header: remove it (and use "
            "GA event names and the nested session shape).",
        )
    credential = bearer_credential(websocket.headers) or subprotocol_credential(offered)
    principal = await state.authenticator.authenticate(credential)
    config = _initial_config(websocket, state, principal.bound_session)
    asked = websocket.query_params.get("model")
    quota = await state.gateway.admit(principal.owner, asked, config.model)
    try:
        limits = state.config.limits
        vad = state.vad_available
        config = admitted_config(state.config.policy, config, vad_available=vad, limits=limits)
        await state.authenticator.admit_session(principal, asked)
    except BaseException:
        quota.release()
        raise
    return config, principal.owner, quota


def _initial_config(websocket: WebSocket, state: ServerState, bound: Any) -> SessionConfig:
    """The secret's bound config (its model too), or the defaults; ``?model=`` picks the model."""
    model = websocket.query_params.get("model")
    if bound is not None:
        return validated(dict(bound), vad_available=state.vad_available, limits=state.config.limits)
    intent = websocket.query_params.get("intent")
    kind: Kind = "transcription" if intent == "transcription" else "realtime"
    return SessionConfig.initial(
        kind, model or state.config.model, vad_available=state.vad_available
    )


async def _deny(websocket: WebSocket, refusal: Refusal) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(refusal.response())
        return
    await websocket.accept()
    await websocket.close(POLICY_VIOLATION, _close_reason(refusal.message))


def _close_reason(message: str) -> str:
    """``message`` cut to the 123 bytes a close frame allows (it may echo client text)."""
    return message.encode()[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")
