"""What every session of one server shares: settings, engines, auth, the roster."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..engines.base import Engines
from ..engines.warmup import WarmUp
from .auth import Authenticator
from .config import ServerConfig
from .host.admission import Admission
from .host.session_resume import ResumeRegistry
from .local.rate_limits import TokenBudgets
from .policy.door import GatewayAdmission
from .stores.client_secrets import SecretIssuer

if TYPE_CHECKING:
    from .host.session_host import SessionHost
    from .stores.redis_node import RedisNode


@dataclass(kw_only=True)
class ServerState:
    """Held on ``app.state.rtagents``; sessions register here while open."""

    config: ServerConfig
    engines: Engines
    issuer: SecretIssuer
    authenticator: Authenticator
    sessions: set[SessionHost] = field(default_factory=set)
    # Sessions that opted into resume, by token (docs/reliability.md).
    resumes: ResumeRegistry = field(default_factory=ResumeRegistry)
    # Live WebRTC calls by call id (server/webrtc/call.py's AnsweredCall); sidebands attach by
    # it. Typed loosely so that this module, which the call imports, need not import it.
    calls: dict[str, Any] = field(default_factory=dict)
    # Loads the engines' models in the background; /healthz reports it.
    warmup: WarmUp = field(init=False)
    # Token budgets per API key (--rate-limit-tokens), spent by responses.
    token_budgets: TokenBudgets = field(init=False)
    # Scenario rules in use, for /healthz and the console (server/scenario.py).
    scenario: dict[str, Any] = field(default_factory=lambda: {"active": False})
    # Chat completions generating now (server/chat_completions.py bounds it).
    chat_in_flight: int = 0
    # Open WebSocket sessions and WebRTC calls, under limits.concurrent_connections.
    admission: Admission = field(init=False)
    # The gateway policy at the door: allowed models, per-key quotas (server/policy).
    gateway: GatewayAdmission = field(init=False)
    # Set by a drain (server/drain.py): nothing new starts here; /healthz says so.
    draining: bool = False
    # --redis: this node's link to the state it shares with other nodes (None: all in memory).
    shared: RedisNode | None = None

    def __post_init__(self) -> None:
        self.warmup = WarmUp(self.engines)
        self.token_budgets = TokenBudgets(
            self.config.rate_limit_tokens, self.config.rate_limit_window_s, self.config.clock
        )
        self.admission = Admission(self.config.limits.concurrent_connections)
        config = self.config
        self.gateway = GatewayAdmission(
            config.policy, config.clock, quote_chars=config.limits.quoted_chars
        )

    async def start_shared(self) -> None:
        """Join the nodes sharing Redis (the signing key, liveness); nothing without it."""
        if self.shared is not None:
            await self.shared.start(self.issuer)

    async def close_shared(self) -> None:
        if self.shared is not None:
            await self.shared.close()

    @property
    def vad_available(self) -> bool:
        return self.engines.vad is not None

    async def close_all(self, code: int, reason: str) -> None:
        """Close every open session (server shutdown), waiting until each has ended."""
        for call in list(self.calls.values()):
            await call.end(code, reason)  # its session, tracks and peer connection
        for host in list(self.sessions):
            await host.shutdown(code, reason)
            await host.wait_closed()
