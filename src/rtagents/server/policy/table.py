"""The gateway policy table: what every session of this server may use, is given, and costs.

A gateway (``serve --upstream``) spends a server-held key on behalf of
browsers and apps, so its operator decides which models and tools clients
may use, what every session is given whatever the client sends (an
instructions prefix, ``max_output_tokens``...), how long a session may last
and how many sessions one key may open. The same table applies to local
sessions. Like :class:`~rtagents.server.host.limits.Limits` it is frozen, held
on ``ServerConfig.policy``, and each field becomes a ``--policy-*`` flag, an
``RTAGENTS_POLICY_*`` variable and a key of the ``--policy FILE``
(``cli/policy_settings.py``); ``docs/relay.md`` lists them. The default
restricts nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Tool types a session may define when only function names are listed.
FUNCTION_TOOLS = ("function",)


@dataclass(frozen=True, kw_only=True)
class Policy:
    """What the gateway allows, forces and counts; unset fields restrict nothing."""

    # --- what a session may ask for ------------------------------------------
    # Models sessions may use (?model=, a secret's or call's session.model); unset: any.
    allowed_models: tuple[str, ...] | None = None
    # Tool types a session or response may define (function, mcp); unset: any, or
    # only function when allowed_functions is set.
    allowed_tool_types: tuple[str, ...] | None = None
    # Function tool names a session or response may define; unset: any.
    allowed_functions: tuple[str, ...] | None = None
    # UTF-8 bytes of the instructions a client writes (the forced prefix not
    # counted), in a session or a response; 0: only limit instructions_bytes.
    max_instructions_bytes: int = 0

    # --- what the gateway imposes --------------------------------------------
    # Text put in front of every instructions a client writes (session or
    # response) and of the default ones; applied once, whatever the client echoes.
    instructions_prefix: str = ""
    # Session fields set whatever the client sends (a GA session object, JSON),
    # e.g. {"max_output_tokens": 512}: on the initial config, secrets, calls,
    # every session.update, and response.create's overrides of the same fields.
    forced_fields: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    # --- how long and how many -----------------------------------------------
    # Seconds a session may last before it is closed (session_expired); 0: only --session-cap.
    max_session_s: float = 0.0
    # New sessions one principal (the API key, or one ek_ secret) may open per
    # quota_window_s; more get 429 with Retry-After. 0: no quota.
    sessions_per_window: int = 0
    # The sliding window of sessions_per_window, in seconds.
    quota_window_s: float = 3600.0
    # Sessions one principal may hold open at once (WebSocket sessions and
    # WebRTC calls); more get 429 until one ends. 0: no quota.
    concurrent_sessions: int = 0

    def __post_init__(self) -> None:
        # Frozen means frozen: a caller's dict must not change the policy later.
        object.__setattr__(self, "forced_fields", _frozen_copy(self.forced_fields))

    @property
    def screens_events(self) -> bool:
        """Whether session.update and response.create need looking at (else: no cost per event)."""
        return bool(
            self.allowed_models is not None
            or self.allowed_tool_types is not None
            or self.allowed_functions is not None
            or self.max_instructions_bytes
            or self.instructions_prefix
            or self.forced_fields
        )

    @property
    def tool_types(self) -> tuple[str, ...] | None:
        """The tool types allowed in effect (a function allowlist alone keeps MCP out)."""
        if self.allowed_tool_types is not None:
            return self.allowed_tool_types
        return FUNCTION_TOOLS if self.allowed_functions is not None else None

    def session_length_s(self, session_cap_s: float) -> float:
        """How long a session lasts: the server's cap, or the policy's if shorter."""
        if 0 < self.max_session_s < session_cap_s:
            return self.max_session_s
        return session_cap_s


def _frozen_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _frozen_copy(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen_copy(v) for v in value)
    return value


def thawed(value: Any) -> Any:
    """A frozen forced value as plain JSON data (dicts and lists) for a session config."""
    if isinstance(value, Mapping):
        return {k: thawed(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thawed(v) for v in value]
    return value
