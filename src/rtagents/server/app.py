"""The ASGI app: client secrets, the Realtime WebSocket, Chat Completions, and a health check.

Routes match the hosted API's paths so that stock clients (the official
``openai`` package included) work by changing only their base URL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from openai.types.realtime import ClientSecretCreateResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from ..engines.base import Engines
from ..protocol.codec import encode_event
from ..protocol.errors import RealtimeError
from . import ids
from .auth import Authenticator, Refusal, bearer_credential
from .chat_completions import chat_completions
from .config import ServerConfig
from .connect import serve_websocket
from .console import console_routes
from .drain import draining_refusal, refused_while_draining
from .local.session_config import OBJECT_NAMES
from .metrics_route import metrics_routes, watch_engine_queues
from .scenario import apply_scenario_rules
from .secret_request import parse_secret_request, session_for_secret, ttl_seconds
from .state import ServerState
from .stores.client_secrets import MintRate, SecretIssuer, SecretStore, StoreFull
from .stores.memory_secrets import InMemorySecretStore
from .stores.mint_rate import MintRateLimiter, RateLimited
from .webrtc.endpoints import create_call, hangup

if TYPE_CHECKING:
    from .stores.redis_node import RedisNode

# Instructions and tools make a config a few KiB; 1 MiB is generous.
MAX_SECRET_REQUEST_BYTES = 2**20


def create_app(
    config: ServerConfig, engines: Engines | None = None, *, store: SecretStore | None = None
) -> Starlette:
    """The server as a Starlette app; ``engines`` default to the scripted ones."""
    if engines is None:
        from ..engines.scripted import scripted_engines

        engines = scripted_engines()
    engines, scenario = apply_scenario_rules(config, engines)
    watch_engine_queues(engines, config.metrics)
    limits = config.limits
    shared = redis_node(config)  # --redis: secrets, rates and resume logs shared by nodes
    if store is None:
        store = shared.secret_store() if shared else None
    if store is None:
        store = InMemorySecretStore(
            config.clock, max_secrets=limits.stored_secrets, max_bytes=limits.stored_secrets_bytes
        )
    rate: MintRate = (
        shared.mint_rate() if shared else MintRateLimiter(config.clock, limits.mints_per_minute)
    )
    issuer = SecretIssuer(config.secret_signing_key, store, config.clock, rate=rate)
    state = ServerState(
        config=config,
        engines=engines,
        issuer=issuer,
        authenticator=Authenticator(
            config.effective_api_key,
            issuer,
            limits,
            secret_used=config.metrics.count_secret_use,  # refused at use, beside at mint
        ),
        scenario=scenario,
    )
    if shared is not None:
        state.shared = shared
        state.resumes = shared.resume_registry()
        state.gateway.shared = shared.quotas  # per-key quotas counted across the nodes
    app = Starlette(
        routes=[
            Route("/v1/realtime/client_secrets", _client_secrets, methods=["POST"]),
            WebSocketRoute("/v1/realtime", _realtime),
            Route("/v1/realtime/calls", refused_while_draining(create_call), methods=["POST"]),
            Route("/v1/realtime/calls/{call_id}/hangup", hangup, methods=["POST"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/healthz", _healthz, methods=["GET"]),
            *metrics_routes(config, lambda: len(state.sessions)),
            *console_routes(mint_secret_response),
        ],
        lifespan=_warm_engines,
    )
    app.state.rtagents = state
    return app


def redis_node(config: ServerConfig) -> RedisNode | None:
    """This node's link to the shared Redis, when ``config.redis_url`` is set (the redis extra)."""
    if config.redis_url is None:
        return None
    from .stores.redis_node import RedisNode

    return RedisNode(config.redis_url, config)


def server_state(app: Any) -> ServerState:
    state: ServerState = app.state.rtagents
    return state


async def _client_secrets(request: Request) -> Response:
    state = server_state(request.app)
    try:
        credential = bearer_credential(request.headers)
        principal = await state.authenticator.authenticate(credential, allow_secret=False)
    except Refusal as exc:
        return exc.response()
    return await mint_secret_response(request, state, principal.owner)


async def mint_secret_response(request: Request, state: ServerState, minted_by: str) -> Response:
    """Mint a secret for the request body; the caller has already authorised it.

    Shared with the browser console (``console.py``), which authorises by origin
    instead of by API key. ``minted_by`` names the minter: its rate is counted
    (429 past ``limits.mints_per_minute``) and the secret remembers it.
    """
    if state.draining:  # a secret is for a session this node will not host
        return draining_refusal().response()
    count = state.config.metrics.count_secret  # "minted", or why not
    try:
        await state.issuer.take_mint(minted_by)
    except RateLimited as exc:
        count("rate_limit_exceeded")
        return _retry_later(429, "rate_limit_exceeded", exc.message, exc.retry_after_s)
    raw = await _bounded_body(request, MAX_SECRET_REQUEST_BYTES)
    if raw is None:
        message = (
            f"The request body is over {MAX_SECRET_REQUEST_BYTES // 1024} KiB; a client "
            "secret request holds one session config. Send a smaller body."
        )
        count("request_too_large")
        return Refusal(413, "request_too_large", message).response()
    try:
        parsed = parse_secret_request(raw)
        config = session_for_secret(
            parsed,
            model=state.config.model,
            vad_available=state.vad_available,
            limits=state.config.limits,
            policy=state.config.policy,
        )
    except RealtimeError as exc:
        count("invalid_request")
        return Refusal(400, exc.code, exc.message, exc.param).response()
    ttl = ttl_seconds(parsed, state.config.default_secret_ttl_s)
    size = len(encode_event(config.data))
    try:
        secret = await state.issuer.mint(config.data, ttl, minted_by=minted_by, size=size)
    except StoreFull as exc:
        count("secret_store_full")
        return _retry_later(503, "secret_store_full", exc.message, exc.retry_after_s)
    count("minted")
    session = {**config.data, "id": ids.session_id(), "object": OBJECT_NAMES[config.kind]}
    body = ClientSecretCreateResponse.model_validate(
        {"value": secret.value, "expires_at": secret.expires_at, "session": session}
    )
    return Response(encode_event(body), media_type="application/json")


def _retry_later(status: int, code: str, message: str, retry_after_s: int) -> Response:
    headers = {"Retry-After": str(retry_after_s)}
    return Refusal(status, code, message, headers=headers).response()


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The body, read in chunks and given up past ``limit`` (None then).

    A session config is a few KiB; reading an arbitrary body into memory would
    let one request take the server's memory.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _realtime(websocket: WebSocket) -> None:
    await serve_websocket(websocket, server_state(websocket.app))


async def _healthz(request: Request) -> Response:
    """200 once every engine is warm; 503 while warming or when a part failed (degraded).

    The body says which part is not ready and why, so a load balancer holds
    traffic back and an operator sees what to fix in one request.
    """
    state = server_state(request.app)
    report = state.warmup.report()
    if state.draining:  # the balancer takes this node out of rotation
        report = {**report, "status": "draining"}
    body = {
        **report,
        "engine": state.engines.name,
        "sessions": len(state.sessions),
        "scenario_rules": state.scenario,
    }
    return JSONResponse(body, status_code=200 if report["status"] == "ready" else 503)


@contextlib.asynccontextmanager
async def _warm_engines(app: Starlette) -> AsyncIterator[None]:
    """Lifespan for ASGI servers that run one: warm the engines without delaying startup."""
    state = server_state(app)
    warmup = state.warmup
    warmup.start()
    await state.start_shared()
    try:
        yield
    finally:
        await warmup.stop()
        await state.close_shared()
        # Spans still buffered go out now (a blocking HTTP export: off the loop).
        await asyncio.to_thread(state.config.telemetry.shutdown)
