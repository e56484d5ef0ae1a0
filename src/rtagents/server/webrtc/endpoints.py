"""``POST /v1/realtime/calls`` and ``/calls/{call_id}/hangup``: WebRTC calls over HTTP.

Shaped as the hosted API: the body is the SDP offer (``application/sdp``), or
``multipart/form-data`` with an ``sdp`` part and a ``session`` part (a GA
session config, validated as a client secret's would be); the caller
authenticates with the API key or an ``ek_`` secret (whose bound config the
call then uses). The answer is ``201`` with the SDP answer as the body and
``Location: /v1/realtime/calls/{call_id}``. Every refusal is a 4xx with the
server's usual JSON ``error`` body saying what was wrong.
"""

from __future__ import annotations

import email.parser
import email.policy
import hmac
import logging
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...protocol.client_text import quoted
from ...protocol.errors import RealtimeError
from ...protocol.json_depth import parse_untrusted
from ..auth import Refusal, bearer_credential
from ..local.session_config import SessionConfig, default_config, merge_update, validated
from ..policy.session_configs import admitted_config, screened
from ..secret_request import parse_secret_request
from ..state import ServerState
from .offer import OfferProblem, check_offer

log = logging.getLogger("rtagents.server.webrtc.endpoints")
# An SDP offer is a few KiB; a session config a few more.
MAX_OFFER_BYTES = 256 * 2**10
CALLS_PATH = "/v1/realtime/calls"


async def create_call(request: Request) -> Response:
    state: ServerState = request.app.state.rtagents
    try:
        principal = await state.authenticator.authenticate(bearer_credential(request.headers))
        offer, session = _parse_body(request.headers.get("content-type", ""), await _body(request))
        config = call_config(state, principal.bound_session, session, request.query_params)
        state.admission.check()  # 503 too_many_connections (host/admission.py)
        models = (request.query_params.get("model"), config.data.get("model"))
        quota = await state.gateway.admit(principal.owner, *models)  # the gateway policy's door
    except Refusal as exc:
        return exc.response()
    try:
        await state.authenticator.admit_session(principal, *models)  # an ek_: its model, once
        from .call import AnsweredCall, BadOffer  # aiortc is the optional [webrtc] extra
    except Refusal as exc:
        quota.release()
        return exc.response()
    except ImportError:
        quota.release()
        message = "WebRTC calls need aiortc: install rtagents[webrtc] on the server."
        return Refusal(501, "webrtc_unavailable", message).response()
    call = AnsweredCall(state, config, owner=principal.secret.value if principal.secret else None)
    state.admission.hold_until(call.ended)  # counted under the connection cap until it ends
    quota.release_when(call.ended)  # and under its principal's quota
    try:
        answer = await call.answer(offer)
    except BadOffer as exc:
        return Refusal(400, "invalid_offer", str(exc), "sdp").response()
    state.calls[call.id] = call
    if state.shared is not None:  # --redis: sidebands may reach any node (stores/redis_calls.py)
        state.shared.calls.hold(call)
    log.info("call %s created", call.id)
    return Response(
        answer,
        status_code=201,
        media_type="application/sdp",
        headers={"Location": f"{CALLS_PATH}/{call.id}"},
    )


async def hangup(request: Request) -> Response:
    state: ServerState = request.app.state.rtagents
    call_id = request.path_params["call_id"]
    try:
        principal = await state.authenticator.authenticate(bearer_credential(request.headers))
        call = state.calls.get(call_id)
        if call is None:
            raise unknown_call(call_id)
        if principal.kind != "api_key":
            _check_owner(call.owner, principal.secret.value if principal.secret else None)
    except Refusal as exc:
        return exc.response()
    await call.end(1000, "the call was hung up")
    return Response(status_code=200)


def _check_owner(owner: str | None, presented: str | None) -> None:
    """A client secret may hang up only the calls it opened (the API key, any call).

    The call id travels in ``Location`` and logs, so knowing it must not be
    enough for some other caller's ``ek_`` to end the call.
    """
    if owner is None or presented is None or not hmac.compare_digest(owner, presented):
        raise Refusal(
            403,
            "insufficient_permissions",
            "This call was opened with another client secret: hang it up with the secret "
            "that opened it, or with the server API key from your backend.",
        )


def unknown_call(call_id: str) -> Refusal:
    return Refusal(
        404,
        "call_not_found",
        f"No such call: {quoted(call_id)}. It never existed on this server or has ended; "
        f"start one with POST {CALLS_PATH}.",
        "call_id",
    )


async def _body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_OFFER_BYTES:
            message = (
                f"The request body is over {MAX_OFFER_BYTES // 1024} KiB; it should hold one "
                "SDP offer (and a session config)."
            )
            raise Refusal(413, "request_too_large", message)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_body(content_type: str, body: bytes) -> tuple[str, bytes | None]:
    """``(sdp offer, session JSON or None)`` from either accepted body shape."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        parts = _form_parts(content_type, body)
        if "sdp" not in parts:
            raise Refusal(
                400,
                "missing_required_parameter",
                "The multipart body has no 'sdp' part; send the SDP offer as the 'sdp' field.",
                "sdp",
            )
        return _check_sdp(parts["sdp"]), parts.get("session")
    if kind in ("application/sdp", "text/plain", ""):
        return _check_sdp(body), None
    raise Refusal(
        415,
        "unsupported_media_type",
        f"Content-Type '{kind}' is not accepted: send the SDP offer as application/sdp, or "
        "multipart/form-data with 'sdp' and 'session' parts.",
    )


def _form_parts(content_type: str, body: bytes) -> dict[str, bytes]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    parts: dict[str, bytes] = {}
    if not message.is_multipart():
        raise Refusal(400, "invalid_multipart", "The multipart/form-data body could not be parsed.")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = payload
    return parts


def _check_sdp(raw: bytes) -> str:
    """The offer as text, if it can make a call (:mod:`.offer`); else a 400 saying why."""
    try:
        sdp = raw.decode()
    except UnicodeDecodeError:
        sdp = ""
    try:
        check_offer(sdp)
    except OfferProblem as exc:
        raise Refusal(400, "invalid_offer", str(exc), "sdp") from None
    return sdp


def call_config(
    state: ServerState,
    bound: Mapping[str, Any] | None,
    session: bytes | None,
    query: Mapping[str, str],
) -> SessionConfig:
    """The call's session config: the secret's (or the defaults), overlaid with ``session``."""
    vad = state.vad_available
    base = (
        dict(bound)
        if bound is not None
        else default_config("realtime", state.config.model, vad_available=vad)
    )
    update: dict[str, Any] = {}
    if session is not None:
        update = _session_update(session)
    elif bound is None and query.get("model"):
        update = {"model": query["model"]}
    policy, limits = state.config.policy, state.config.limits
    try:
        screened(policy, update, quote_chars=limits.quoted_chars)  # the gateway policy
        config = validated(
            merge_update(base, update), vad_available=state.vad_available, limits=limits
        )
    except RealtimeError as exc:
        raise Refusal(400, exc.code, exc.message, exc.param) from exc
    return admitted_config(policy, config, vad_available=state.vad_available, limits=limits)


def _session_update(session: bytes) -> dict[str, Any]:
    _check_one_json_value(session)
    try:
        request = parse_secret_request(b'{"session":' + session + b"}")
    except RealtimeError as exc:
        message = exc.message.replace("POST /v1/realtime/client_secrets", f"POST {CALLS_PATH}")
        raise Refusal(400, exc.code, message, exc.param) from exc
    if request.session is None:
        return {}
    update: dict[str, Any] = request.session.model_dump(
        mode="json", exclude_unset=True, by_alias=True
    )
    return update


def _check_one_json_value(session: bytes) -> None:
    """Refuse a part that is not exactly one JSON value, so it cannot escape the
    wrapper it is validated in. The parser does not recurse, so no nesting can
    exhaust the stack (the stdlib's did: a 500 at 1,000 levels)."""
    try:
        parse_untrusted(session)
    except ValueError as exc:
        message = f"The 'session' part is not valid JSON: {exc}. Send one GA session config object."
        raise Refusal(400, "invalid_json", message, "session") from None
