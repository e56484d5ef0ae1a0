"""The body of ``POST /v1/realtime/client_secrets``, validated like an event.

The session config is checked with the same ``openai`` models the WebSocket
path uses, unknown (often beta) fields are refused with their GA replacement,
and the server's own rules apply, so a secret can never carry a config that
the session would later reject.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from openai.types.realtime import (
    RealtimeSessionCreateRequest,
    RealtimeTranscriptionSessionCreateRequest,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..protocol.errors import RemoteProtocolError
from ..protocol.paths import (
    describe_validation_error,
    first_error,
    unknown_field_error,
    unknown_field_paths,
)
from .host.limits import Limits
from .local.session_config import SessionConfig, default_config, merge_update, validated
from .policy.session_configs import screened, with_policy
from .policy.table import Policy

MIN_TTL_S = 10
MAX_TTL_S = 7200
_WHERE = "POST /v1/realtime/client_secrets"


class ExpiresAfter(BaseModel):
    model_config = ConfigDict(extra="allow")

    anchor: Literal["created_at"] = "created_at"
    seconds: int | None = Field(default=None, ge=MIN_TTL_S, le=MAX_TTL_S)


class SecretRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    expires_after: ExpiresAfter | None = None
    session: (
        Annotated[
            Union[RealtimeSessionCreateRequest, RealtimeTranscriptionSessionCreateRequest],  # noqa: UP007
            Field(discriminator="type"),
        ]
        | None
    ) = None


def parse_secret_request(body: bytes) -> SecretRequest:
    """The validated request, or :class:`RemoteProtocolError` naming the field."""
    try:
        request = SecretRequest.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise _describe(exc) from None
    extras = unknown_field_paths(request)
    if extras:
        raise unknown_field_error(extras[0], event_id=None)
    return request


def _describe(exc: ValidationError) -> RemoteProtocolError:
    error = dict(first_error(exc))
    loc = list(error["loc"])
    if error["type"] == "json_invalid":
        return RemoteProtocolError(
            f"The request body is not valid JSON: {error['msg']}.", code="invalid_json"
        )
    if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
        return RemoteProtocolError(
            "session.type must be 'realtime' or 'transcription'.",
            code="missing_required_parameter"
            if error["type"] == "union_tag_not_found"
            else "invalid_value",
            param="session.type",
        )
    if len(loc) > 1 and loc[0] == "session" and loc[1] in ("realtime", "transcription"):
        del loc[1]  # the discriminator's tag is not a field the caller wrote
    error["loc"] = ("request", *loc)
    code, param, message = describe_validation_error(error, _WHERE)
    return RemoteProtocolError(message, code=code, param=param)


def session_for_secret(
    request: SecretRequest,
    *,
    model: str,
    vad_available: bool,
    limits: Limits | None = None,
    policy: Policy | None = None,
) -> SessionConfig:
    """The effective config a secret binds: defaults overlaid with the request.

    ``limits`` is the server's table (instructions and tools sizes); the
    defaults when a caller has none. ``policy`` is the gateway policy: what
    the request sets is screened by it (a refusal names the field) and its
    forced fields are laid over the result, so the secret carries them.
    """
    update: Mapping[str, Any] = {}
    kind: Literal["realtime", "transcription"] = "realtime"
    if request.session is not None:
        update = request.session.model_dump(mode="json", exclude_unset=True, by_alias=True)
        kind = request.session.type
    base = default_config(kind, model, vad_available=vad_available)
    if policy is None:
        return validated(merge_update(base, update), vad_available=vad_available, limits=limits)
    quote_chars = (limits or Limits()).quoted_chars
    screened(policy, {"model": model, **update}, quote_chars=quote_chars)
    config = validated(merge_update(base, update), vad_available=vad_available, limits=limits)
    return with_policy(policy, config, vad_available=vad_available, limits=limits)


def ttl_seconds(request: SecretRequest, default: int) -> int:
    if request.expires_after is None or request.expires_after.seconds is None:
        return default
    return request.expires_after.seconds
