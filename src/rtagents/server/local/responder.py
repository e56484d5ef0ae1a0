"""``response.create`` and ``response.cancel``.

``response.create`` resolves the per-response overrides against the session
config into a :class:`ResponsePlan` (checking them as ``session.update``
would), then starts a :class:`ResponseRun`. One response at a time may write
to the conversation; out-of-band ones (``conversation: "none"``) may overlap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openai.types.realtime import ResponseCancelEvent, ResponseCreateEvent

from ..protocol.audio import AudioFormat
from ..protocol.errors import RemoteProtocolError
from .responses import ResponsePlan, ResponseRun
from .session_rules import (
    check_max_output_tokens,
    check_modalities,
    check_tool_choice,
    check_tools,
)

if TYPE_CHECKING:
    from .session import SessionHost


async def create(host: SessionHost, event: ResponseCreateEvent) -> None:
    if host.config.kind == "transcription":
        raise RemoteProtocolError(
            "A transcription session does not create responses; open a realtime session "
            "(session.type = 'realtime') to talk to the model.",
            code="invalid_value",
            param="type",
        )
    start_response(host, _overrides(event))


def start_response(host: SessionHost, overrides: dict[str, Any]) -> ResponseRun:
    """Plan and start a response (also what turn detection does at the end of a turn)."""
    plan = plan_for(host, overrides)
    if plan.conversation == "auto":
        active = host.active_response()
        if active is not None:
            raise RemoteProtocolError(
                f"Conversation already has an active response in progress: {active.id}. Wait "
                "until the response is finished before creating a new one, or cancel it.",
                code="conversation_already_has_active_response",
            )
    run = ResponseRun(host, plan)
    run.start()
    return run


def _overrides(event: ResponseCreateEvent) -> dict[str, Any]:
    if event.response is None:
        return {}
    return event.response.model_dump(mode="json", exclude_unset=True, by_alias=True)


def plan_for(host: SessionHost, overrides: dict[str, Any]) -> ResponsePlan:
    """The session config overlaid with a response's own settings, checked."""
    config = host.config
    conversation = overrides.get("conversation") or "auto"
    if conversation not in ("auto", "none"):
        raise RemoteProtocolError(
            f"response.conversation must be 'auto' (the session's conversation) or 'none' "
            f"(out of band); got '{conversation}'.",
            code="invalid_value",
            param="response.conversation",
        )
    modalities = overrides.get("output_modalities") or config.output_modalities
    check_modalities(modalities, "response.output_modalities")
    max_tokens = overrides.get("max_output_tokens", config.data.get("max_output_tokens"))
    check_max_output_tokens(max_tokens, "response.max_output_tokens")
    tools = overrides["tools"] if "tools" in overrides else config.tools
    check_tools(tools, "response.tools")
    tool_choice = overrides.get("tool_choice", config.tool_choice)
    check_tool_choice(tool_choice, tools, "response.tool_choice")
    output = (overrides.get("audio") or {}).get("output") or {}
    session_output = (config.data.get("audio") or {}).get("output") or {}
    format_wire = output.get("format") or session_output.get("format")
    return ResponsePlan(
        conversation="none" if conversation == "none" else "auto",
        instructions=overrides.get("instructions", config.instructions) or "",
        audio=modalities == ["audio"],
        voice=output.get("voice") or config.voice,
        speed=config.speed,
        output_format=AudioFormat.from_wire(format_wire),
        tools=tools,
        tool_choice=tool_choice,
        max_output_tokens=max_tokens if isinstance(max_tokens, int) else None,
        metadata=overrides.get("metadata"),
        input=overrides.get("input"),
    )


async def cancel(host: SessionHost, event: ResponseCancelEvent) -> None:
    if event.response_id:
        target = host.responses.get(event.response_id)
    else:
        target = host.active_response() or next(iter(host.responses.values()), None)
    if target is None:
        detail = f" with id '{event.response_id}'" if event.response_id else ""
        raise RemoteProtocolError(
            f"Cancellation failed: no active response found{detail}.",
            code="response_cancel_not_active",
            param="response_id" if event.response_id else None,
        )
    await target.cancel("client_cancelled")
