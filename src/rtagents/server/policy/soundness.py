"""Whether a policy can work on this server, checked before it serves anything.

A forced field the GA schema refuses, a forced tool the allowlist refuses, a
default model the policy forbids or a prefix longer than the instructions
limit would make every session fail; the server refuses to start instead,
with one line naming the setting.
"""

from __future__ import annotations

from openai.types.realtime import RealtimeSessionCreateRequest
from pydantic import ValidationError

from ...protocol.errors import RemoteProtocolError
from ...protocol.paths import first_error, unknown_field_paths
from ..host.limits import Limits
from ..local.session_config import SessionConfig
from .forcing import forced_update
from .screening import fields_refusal, model_refusal
from .session_configs import with_policy
from .table import Policy

# Forced fields that would change what a session *is* rather than how it behaves.
_NOT_FORCEABLE = ("type", "model", "id", "object", "expires_at")


def policy_problem(policy: Policy, *, default_model: str, limits: Limits) -> str | None:
    """What makes ``policy`` unusable here, as one line; None when it is sound."""
    refused = model_refusal(policy, default_model, "model")
    if refused is not None:
        return (
            f"the default model {default_model!r} (--model) is not in policy allowed_models; "
            "add it there or start with --model set to an allowed one"
        )
    prefix_bytes = len(policy.instructions_prefix.encode("utf-8", "surrogatepass"))
    if prefix_bytes > limits.instructions_bytes:
        return (
            f"policy instructions_prefix is {prefix_bytes} bytes, more than limit "
            f"instructions_bytes ({limits.instructions_bytes}); shorten it"
        )
    return _forced_fields_problem(policy, default_model, limits)


def _forced_fields_problem(policy: Policy, model: str, limits: Limits) -> str | None:
    forced = forced_update(policy, {})
    for key in _NOT_FORCEABLE:
        if key in forced:
            return f"policy forced_fields may not set {key!r}; it names the session, not a setting"
    try:
        request = RealtimeSessionCreateRequest.model_validate({"type": "realtime", **forced})
    except ValidationError as exc:
        error = first_error(exc)
        where = ".".join(str(part) for part in error["loc"])
        return f"policy forced_fields.{where}: {error['msg']}"
    extras = unknown_field_paths(request)
    if extras:
        return f"policy forced_fields.{extras[0]} is not a GA session field"
    refused = fields_refusal(policy, forced, "session")
    if refused is not None:
        return f"policy forced_fields break the policy itself: {refused.message}"
    try:
        with_policy(
            policy, SessionConfig.initial("realtime", model), vad_available=True, limits=limits
        )
    except RemoteProtocolError as exc:
        return f"policy forced_fields: {exc.message}"
    return None
