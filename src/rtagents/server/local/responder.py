"""The responses of one session: plan, start, cancel, and which one is active.

``response.create`` resolves the per-response overrides against the session
config into a :class:`ResponsePlan` (checking them as ``session.update``
would), then starts a :class:`ResponseRun`. One response at a time may write
to the conversation (the rules table refuses a second one); out-of-band ones
(``conversation: "none"``) may overlap.
"""

from __future__ import annotations

from typing import Any

from openai.types.realtime import ResponseCancelEvent, ResponseCreateEvent

from ...engines.base import speakable_voices
from ...protocol.audio import AudioFormat
from .audio_out import AudioOut
from .response_plan import ResponsePlan
from .response_run import ResponseRun
from .session_context import SessionContext
from .session_rules import (
    check_max_output_tokens,
    check_modalities,
    check_tool_choice,
    check_tools,
    check_voice,
)
from .speculation import HeldReply


class Responder:
    """Owns the session's running responses (a response is in ``runs`` until its done)."""

    def __init__(self, ctx: SessionContext, audio_out: AudioOut) -> None:
        self.ctx = ctx
        self.audio_out = audio_out
        self.runs: dict[str, ResponseRun] = {}

    def active(self) -> ResponseRun | None:
        """The response writing to the conversation, if any (out-of-band ones do not)."""
        for run in self.runs.values():
            if run.plan.conversation == "auto":
                return run
        return None

    async def create(self, event: ResponseCreateEvent) -> None:
        """``response.create`` (the rules table already refused what it must)."""
        self.start(_overrides(event))

    def start(self, overrides: dict[str, Any], held: HeldReply | None = None) -> ResponseRun:
        """Plan and start a response (also what turn detection does at the end of a turn).

        ``held``: the turn's speculative reply, used if it answers this very request.
        """
        run = ResponseRun(self.ctx, self.plan_for(overrides), self.audio_out, self.runs, held)
        run.start()
        return run

    async def cancel(self, event: ResponseCancelEvent) -> None:
        """``response.cancel``: the named response, else the active one, else any."""
        if event.response_id:
            target = self.runs.get(event.response_id)
        else:
            target = self.active() or next(iter(self.runs.values()), None)
        if target is None:  # the rules saw it running; it ended since
            return
        await target.cancel("client_cancelled")

    def plan_for(self, overrides: dict[str, Any]) -> ResponsePlan:
        """The session config overlaid with a response's own settings, checked."""
        config = self.ctx.config
        conversation = overrides.get("conversation") or "auto"  # the rules checked it
        modalities = overrides.get("output_modalities") or config.output_modalities
        check_modalities(modalities, "response.output_modalities")
        max_tokens = overrides.get("max_output_tokens", config.data.get("max_output_tokens"))
        check_max_output_tokens(max_tokens, "response.max_output_tokens")
        tools = overrides["tools"] if "tools" in overrides else config.tools
        check_tools(tools, "response.tools")
        if "tools" in overrides:  # the session's were checked by session.update
            self.ctx.mcp.accept(tools, "response.tools")  # MCP URLs on the server's allowlist
        tool_choice = overrides.get("tool_choice", config.tool_choice)
        check_tool_choice(tool_choice, tools, "response.tool_choice")
        output = (overrides.get("audio") or {}).get("output") or {}
        session_output = (config.data.get("audio") or {}).get("output") or {}
        format_wire = output.get("format") or session_output.get("format")
        voices = speakable_voices(self.ctx.state.engines.tts)
        if voices is not None and output.get("voice") is not None:
            check_voice(output["voice"], voices, "response.audio.output.voice")
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


def _overrides(event: ResponseCreateEvent) -> dict[str, Any]:
    if event.response is None:
        return {}
    return event.response.model_dump(mode="json", exclude_unset=True, by_alias=True)
