"""``rtagents serve``: the self-hosted Realtime server until SIGINT/SIGTERM.

It runs on :func:`rtagents.server.serving.running_server`, the same code the
tests and the demo use, so a shutdown closes every open session with 1001
("going away", which reconnecting clients retry) instead of uvicorn's 1012.
Everything it says goes through the ``rtagents`` logger, so ``--log-format
json`` gives JSON objects only, from the first line to the last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol

from ..server.stores import SharedStateUnavailable
from .failures import CliError, bind_failure
from .limit_settings import limits_from
from .policy_settings import checked_policy
from .settings import ServeSettings, load_serve_settings

if TYPE_CHECKING:
    from ..engines.base import Engines
    from ..server.config import ServerConfig
    from ..server.host.backend import HostPort, Observer
    from ..server.metrics_route import MetricsListener
    from ..server.policy.table import Policy
    from ..server.relay.upstream_settings import UpstreamSettings

log = logging.getLogger("rtagents.serve")


class EngineChoice(Protocol):
    """What picks an engine set: ``serve``'s settings, or ``demo``'s flags."""

    @property
    def engine(self) -> str: ...
    @property
    def llm_url(self) -> str | None: ...
    @property
    def llm_model(self) -> str | None: ...
    @property
    def stt_threads(self) -> int: ...
    @property
    def engine_threads(self) -> int | None: ...


@contextlib.asynccontextmanager
async def engines_for(choice: EngineChoice) -> AsyncIterator[Engines]:
    """The engine set ``choice.engine`` names, freed (model server stopped) on exit.

    ``local`` is built unloaded: the server opens its port at once and warms
    the models in the background (progress in the log, readiness on /healthz).
    """
    from ..engines.warmup import close_engines

    # Relay mode answers with the upstream: no local models to load.
    if choice.engine == "local" and getattr(choice, "upstream", None) is None:
        from ..engines.local.factory import local_engines

        engines = local_engines(
            llm_url=choice.llm_url,
            llm_model=choice.llm_model,
            stt_threads=choice.stt_threads,
            engine_threads=choice.engine_threads,
        )
    else:
        from ..engines.scripted import scripted_engines

        engines = scripted_engines()
    try:
        yield engines
    finally:
        await close_engines(engines)


def require_local_packages(engine: str, llm_url: str | None) -> None:
    """Fail before starting when ``--engine local`` lacks a package it cannot run without."""
    if engine != "local":
        return
    from ..engines.local.embedded_llm import MODEL_DIST, MODEL_PACKAGE

    if importlib.util.find_spec("faster_whisper") is None:
        raise CliError(
            "the local engines are not installed; run pip install 'rtagents[local]' "
            "(or use --engine scripted, which needs no models)"
        )
    if llm_url is None and importlib.util.find_spec(MODEL_PACKAGE) is None:
        raise CliError(
            f"the embedded LLM's model package {MODEL_DIST} is not installed; run "
            "`rtagents setup` (or pass --llm-url URL for another LLM, or --engine scripted)"
        )


def require_redis_package(url: str | None) -> None:
    """``--redis`` needs redis-py (the redis extra): say so before starting."""
    if url is not None and importlib.util.find_spec("redis") is None:
        raise CliError("--redis needs the redis extra; run pip install 'rtagents[redis]'")


def check_scenario_rules(path: str | None) -> None:
    """Read the rules file before starting, so a bad one is a one-line error, not a crash."""
    if path is None:
        return
    from ..engines.scenario_rules import ScenarioRulesError, load_scenario_rules

    try:
        load_scenario_rules(path)
    except ScenarioRulesError as exc:
        raise CliError(str(exc)) from exc


def server_config(
    settings: ServeSettings, api_key: str, policy: Policy | None = None
) -> ServerConfig:
    """The server's settings from ``rtagents serve``'s (``policy``: the gateway policy)."""
    from ..observability.telemetry import TelemetryUnavailable

    try:
        return _server_config(settings, api_key, policy)
    except TelemetryUnavailable as exc:
        raise CliError(f"--tracing {settings.tracing}: {exc}") from exc


def _server_config(settings: ServeSettings, api_key: str, policy: Policy | None) -> ServerConfig:
    from ..server.config import ServerConfig
    from ..server.policy.table import Policy

    return ServerConfig(
        host=settings.host,
        port=settings.port,
        api_key=api_key,
        session_cap_s=settings.session_cap,
        model=settings.model,
        console=settings.console,
        ice_servers=list(settings.ice_server),
        webrtc_loopback=settings.webrtc_loopback,
        call_connect_timeout_s=settings.call_connect_timeout,
        call_peer_timeout_s=settings.call_peer_timeout,
        resume_grace_s=settings.resume_grace,
        upstream=upstream_settings(settings),
        redis_url=settings.redis,
        scenario_rules=settings.scenario_rules,
        scenario_rules_forced=settings.force_scenario_rules,
        chat_max_request_bytes=settings.chat_max_request_bytes,
        chat_max_concurrent=settings.chat_max_concurrent,
        mcp_allow=tuple(settings.mcp_allow),
        mcp_timeout_s=settings.mcp_timeout,
        rate_limit_tokens=settings.rate_limit_tokens,
        rate_limit_window_s=settings.rate_limit_window,
        limits=limits_from(settings),
        policy=policy or Policy(),
        observers=recorders(settings),
        metrics_port=settings.metrics_port,
        tracing=settings.tracing,
    )


def upstream_settings(settings: ServeSettings) -> UpstreamSettings | None:
    """``--upstream URL``: relay mode, with the key from ``RTAGENTS_UPSTREAM_API_KEY``."""
    if settings.upstream is None:
        return None
    from ..server.relay.upstream_settings import API_KEY_ENV, UpstreamSettings, UpstreamUrlError

    try:
        return UpstreamSettings(url=settings.upstream, api_key=os.environ.get(API_KEY_ENV, ""))
    except UpstreamUrlError as exc:
        raise CliError(str(exc)) from exc


def recorders(settings: ServeSettings) -> tuple[Callable[[HostPort], Observer], ...]:
    """``--record DIR``: every session host gets an observer writing its recording."""
    if settings.record is None:
        return ()
    from ..server.host.recording_observer import session_recorders

    return (session_recorders(settings.record, audio=settings.record_audio),)


async def serve_until_stopped(
    settings: ServeSettings, api_key: str, policy: Policy | None = None
) -> None:
    from ..server.app import server_state
    from ..server.collector import start_schedule
    from ..server.drain import StopSignals, drain_unless_stopped
    from ..server.serving import running_server
    from ..server.workers import watch_parent, worker_index

    config = server_config(settings, api_key, policy)
    index = worker_index()
    config.reuse_port = index is not None  # --workers: the siblings share the port
    if index is not None and config.metrics_port:  # each worker's own registry: PORT + index
        config.metrics_port += index
    # SIGTERM drains (server/drain.py) for --drain-grace s; SIGINT stops at once.
    signals = StopSignals(settings.drain_grace).install(asyncio.get_running_loop())
    async with engines_for(settings) as engines:
        try:
            serving = running_server(config, engines)
            server = await serving.__aenter__()
        except OSError as exc:
            raise bind_failure(exc, settings.host, settings.port) from exc
        except SharedStateUnavailable as exc:
            raise CliError(str(exc)) from exc
        try:
            # Everything alive now (modules, models, the app) lives as long as the
            # process: moving it out of the collector's reach cuts full-collection
            # pauses under many sessions from ~100 ms to ~30 ms (bench/load.py).
            gc.freeze()
            state = server_state(server.app)
            collector = start_schedule(settings.gc_sweep, lambda: len(state.sessions))
            if not settings.api_key:
                # Said once, after the port is ours, so the operator can mint
                # secrets; never logged again.
                log.warning("no --api-key given; this run's API key is %s", api_key)
            log.info(
                "serving Realtime GA on %s (client secrets: POST %s/v1/realtime/client_secrets; "
                "console: %s/)",
                server.ws_url,
                server.http_url,
                server.http_url,
                extra={"ws_url": server.ws_url, "http_url": server.http_url},
            )
            metrics = metrics_listener(config)
            watch_parent(signals.on_term)
            try:
                await signals.requested.wait()
                await drain_unless_stopped(state, signals)
            finally:
                if collector is not None:
                    collector.cancel()
                if metrics is not None:
                    metrics.close()
            log.info("shutting down; closing sessions with 1001")
        finally:
            await serving.__aexit__(None, None, None)


def metrics_listener(config: ServerConfig) -> MetricsListener | None:
    """``--metrics-port``: /metrics on a listener of its own (logged with its port)."""
    if config.metrics_port is None:
        return None
    from ..server.metrics_route import MetricsListener

    try:
        listener = MetricsListener(config)
    except OSError as exc:
        raise bind_failure(exc, config.host, config.metrics_port) from exc
    log.info("Prometheus metrics on http://%s:%d/metrics", config.host, listener.port)
    return listener


def run_serve(args: argparse.Namespace) -> int:
    from ..observability.event_log import configure_logging

    settings = load_serve_settings(args)
    # Client text in log lines is cut where error replies cut it.
    quoted_chars = limits_from(settings).quoted_chars
    configure_logging(settings.log_format, settings.log_level, quoted_chars=quoted_chars)
    if settings.upstream is None:  # relay mode needs no local engines
        require_local_packages(settings.engine, settings.llm_url)
    check_scenario_rules(settings.scenario_rules)
    require_redis_package(settings.redis)
    policy = checked_policy(args, model=settings.model, limits=limits_from(settings))
    api_key = settings.api_key or "sk-local-" + secrets.token_urlsafe(24)
    if settings.workers > 1:  # a worker itself is started with --workers 1
        from .serve_workers import run_workers

        return run_workers(settings, args, api_key)
    asyncio.run(serve_until_stopped(settings, api_key, policy))
    log.info("stopped")
    return 0
