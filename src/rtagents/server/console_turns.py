"""``GET /console/calls/{call_id}/turns``: a call's latency marks, for the console's stage bars.

The console draws where each turn's time went on the server (transcript,
first LLM token, first text, first audio played, done), and the first token
shows in no event. Rather than put a non-GA event on the wire, the page reads
the server's per-session marks here, as JSON (see docs/console.md): the wire
stays exactly the hosted API's for every client, and a client that never asks
pays nothing. The caller must hold what opened the call: the same client
secret (compared in constant time; it stays good for the call's life, as a
hang-up's does even after the secret's own expiry would refuse a new call) or
the server's API key. The answer holds the session's last ``MARKS_KEPT``
records, each ``TurnMarks.summary()``, then the responses still in progress
(``status`` null: the stages reached so far).
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .auth import Refusal, bearer_credential
from .state import ServerState
from .webrtc.endpoints import unknown_call

TURNS_PATH = "/console/calls/{call_id}/turns"


async def call_turns(request: Request) -> Response:
    state: ServerState = request.app.state.rtagents
    call_id = request.path_params["call_id"]
    try:
        call = await _owned_call(request, state, call_id)
    except Refusal as exc:
        return exc.response()
    host = getattr(call, "host", None)
    book = getattr(getattr(getattr(host, "backend", None), "turns", None), "book", None)
    marks = book.snapshot() if book is not None else []  # only the local pipeline has marks
    body: dict[str, Any] = {
        "object": "rtagents.call.turns",
        "call_id": call_id,
        "session_id": getattr(host, "id", None),
        "turns": [m.summary() for m in marks],
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def _owned_call(request: Request, state: ServerState, call_id: str) -> Any:
    credential = bearer_credential(request.headers)
    if credential is None:
        raise Refusal(
            401,
            "missing_api_key",
            "Send 'Authorization: Bearer <the client secret that opened the call>' "
            "(or the server API key).",
        )
    call = state.calls.get(call_id)
    owner = getattr(call, "owner", None) if call is not None else None
    if owner is not None and hmac.compare_digest(owner.encode(), credential.value.encode()):
        return call
    principal = await state.authenticator.authenticate(credential)
    if call is None:
        raise unknown_call(call_id)
    if principal.kind != "api_key":
        raise Refusal(
            403,
            "insufficient_permissions",
            "This call was opened with another client secret: read its turns with the "
            "secret that opened it, or with the server API key.",
        )
    return call
