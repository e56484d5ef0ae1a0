"""Settings of one server process.

Everything that varies between a test and production lives here, the clock
included: secret expiry and the session cap read ``clock`` (and the cap waits
with ``sleep``) so tests can move time forward without sleeping, e.g. with
:class:`rtagents.testing.clock.FakeClock`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..observability.metrics import ServerMetrics
from ..observability.metrics_observer import SessionMetrics
from ..observability.telemetry import Telemetry, TracingMode
from ..observability.telemetry_observer import SessionTracer
from .host.limits import Limits
from .policy.table import Policy
from .relay.upstream_settings import UpstreamSettings

if TYPE_CHECKING:
    from .host.backend import HostPort, Observer

MIB = 2**20


@dataclass(kw_only=True)
class ServerConfig:
    """How ``rtagents serve`` behaves; every field has a production default."""

    host: str = "127.0.0.1"
    port: int = 8000
    # None -> a random key for this run (the CLI prints it once at start).
    api_key: str | None = None
    # Hosted sessions end after 60 minutes; a reconnect then starts a new one.
    session_cap_s: float = 3600.0
    default_secret_ttl_s: int = 600
    model: str = "gpt-realtime"
    # Every bound on what clients can make the server hold (docs/server.md):
    # the largest append, the largest WebSocket message, the input buffer...
    limits: Limits = field(default_factory=Limits)
    # The gateway policy (docs/relay.md, "Gateway policy"): allowed models and
    # tools, forced session fields, session length, per-key quotas; the default
    # restricts nothing.
    policy: Policy = field(default_factory=Policy)
    clock: Callable[[], float] = time.time
    # How the session cap waits (FakeClock.sleep in tests).
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # Observers every session host gets (recording, metrics, tracing, test
    # taps): each factory is called with the new host and sees every event it
    # sends and receives, so none of them needs a hook inside the host.
    observers: Sequence[Callable[[HostPort], Observer]] = ()
    # Prometheus metrics (docs/debugging.md, "Metrics and traces"): this server's own
    # registry. GET /metrics asks for the API key, unless metrics_port serves them
    # on a port of their own (no auth there; then the main port has no /metrics).
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    metrics_port: int | None = None
    # OpenTelemetry spans (the telemetry extra): "session" traces the sessions whose
    # `tracing` field is set, "all" every session, "off" none; exported over
    # OTLP/HTTP as the OTEL_* variables say, or to `tracer_provider` when given.
    tracing: TracingMode = "session"
    tracer_provider: Any = None
    telemetry: Telemetry = field(init=False)
    # Resume (opt-in per session, docs/reliability.md): how long a session
    # whose connection dropped waits for the client to come back (0 = no
    # resume offered), and how many bytes of sent frames it keeps to replay.
    resume_grace_s: float = 30.0
    resume_log_bytes: int = 16 * MIB
    # Signs client secrets; random per process unless shared by several nodes
    # (with redis_url, the first node's key is stored in Redis and used by all).
    secret_signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    # Shared state (docs/deploy.md, "Redis"): with a redis:// URL, client secrets,
    # mint rates and resume logs live in Redis, so a session resumes on any node.
    # None keeps everything in this process's memory.
    redis_url: str | None = None
    # A node that has not renewed its liveness for this long is dead: another
    # node may take its sessions over (a resume waits out at most this long).
    redis_node_ttl_s: float = 2.0
    # Frames of one session's Redis resume log (a Stream, MAXLEN); a session
    # whose log no longer reaches back to its first frame cannot move nodes.
    resume_log_frames: int = 20_000
    # Relay mode (docs/relay.md): every session is answered by a session on this
    # upstream GA server, opened with its server-held key; None: the local engines.
    upstream: UpstreamSettings | None = None
    # The browser console's secret endpoint (docs/console.md) mints ek_ secrets
    # for anyone who can reach it; None turns it on only for a loopback bind.
    console: bool | None = None
    # WebRTC calls (docs/webrtc.md). ICE servers as STUN/TURN URLs or
    # {"urls", "username", "credential"} dicts; none by default, so nothing is
    # contacted. A call that has not connected after the timeout is closed.
    ice_servers: list[str | dict[str, Any]] = field(default_factory=list)
    call_connect_timeout_s: float = 15.0
    # A connected call from which nothing (audio, RTCP, data) has arrived for
    # this long is failed and ended: its caller vanished without hanging up
    # (0: wait for ICE consent, about 35 s).
    call_peer_timeout_s: float = 10.0
    # Offer 127.0.0.1 as an ICE host candidate (aioice leaves it out): only
    # for a loopback-only host such as a CI sandbox; see loopback_candidates().
    webrtc_loopback: bool = False
    # POST /v1/chat/completions: the largest request body accepted (413 past it).
    chat_max_request_bytes: int = 4 * MIB
    # Chat completions generating at once; more get 429 (clients retry), so a
    # burst cannot queue unbounded work on one engine.
    chat_max_concurrent: int = 16
    # Scenario rules (docs/scenario_rules.md): a TOML/JSON file whose rules
    # choose tool calls from the user's words. Ignored when the LLM chooses
    # tools itself (an external model behind --llm-url) unless forced.
    scenario_rules: str | None = None
    scenario_rules_forced: bool = False
    # Token budget per API key (docs/server.md, "Rate limits"): the usage.total_tokens
    # its sessions may spend per rate_limit_window_s; None: unlimited.
    rate_limit_tokens: int | None = None
    rate_limit_window_s: float = 60.0
    # Bind with SO_REUSEPORT so sibling processes serve the same port (--workers).
    reuse_port: bool = False
    # MCP tools (docs/mcp.md): the URL prefixes MCP servers may be reached at
    # (empty: loopback only, against server-side request forgery), and the
    # deadline of each list or call, connect to answer.
    mcp_allow: tuple[str, ...] = ()
    mcp_timeout_s: float = 20.0

    def __post_init__(self) -> None:
        if self.api_key is None:
            self.api_key = "sk-local-" + secrets.token_urlsafe(24)
        self.telemetry = Telemetry(self.tracing, self.tracer_provider)

    def session_observers(self, host: HostPort) -> list[Observer]:
        """What watches a new session: its metrics, its spans, then ``observers``."""
        watching: list[Observer] = [SessionMetrics(self.metrics)]
        if self.telemetry.enabled:  # else not even a lookup per event
            watching.append(SessionTracer(self.telemetry, host.session_id, time.time_ns))
        watching.extend(make(host) for make in self.observers)
        return watching

    @property
    def session_length_s(self) -> float:
        """How long a session lasts: ``session_cap_s``, or the policy's max_session_s if shorter."""
        return self.policy.session_length_s(self.session_cap_s)

    @property
    def effective_api_key(self) -> str:
        """The API key as a plain ``str`` (``__post_init__`` always sets one)."""
        assert self.api_key is not None
        return self.api_key
