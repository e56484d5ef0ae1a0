"""Session and response settings the schema allows but this server cannot honour.

The ``openai`` models check shapes; these checks add what a server knows:
only one output modality at a time, token and speed ranges, tools that can be
called (function tools with distinct names; MCP tools: server/mcp), a forced
tool that exists, and turn detection only when a VAD engine is present (with
its threshold and durations in range).
Each failure names the ``param`` and says what to send instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...protocol.client_text import quoted
from ...protocol.errors import RemoteProtocolError
from .truncation import truncation_problem

MAX_OUTPUT_TOKENS = 4096
SPEED_RANGE = (0.25, 1.5)


def refusal(message: str, param: str, code: str = "invalid_value") -> RemoteProtocolError:
    """The error for a setting the server refuses (shared with :mod:`.session_config`)."""
    return RemoteProtocolError(message, code=code, param=param)


def check_semantics(data: Mapping[str, Any], *, vad_available: bool) -> None:
    """Raise :class:`RemoteProtocolError` for the first rule a full config breaks."""
    prefix = "session"
    if "output_modalities" in data:
        check_modalities(data["output_modalities"], f"{prefix}.output_modalities")
    if "max_output_tokens" in data:
        check_max_output_tokens(data["max_output_tokens"], f"{prefix}.max_output_tokens")
    audio = data.get("audio") or {}
    output = audio.get("output") or {}
    if output.get("speed") is not None:
        check_speed(output["speed"], f"{prefix}.audio.output.speed")
    turn_detection = (audio.get("input") or {}).get("turn_detection")
    if turn_detection is not None:
        param = f"{prefix}.audio.input.turn_detection"
        if not vad_available:
            raise refusal(
                f"Turn detection '{turn_detection.get('type')}' is not available: this server "
                "has no VAD engine. Set session.audio.input.turn_detection to null and commit "
                "the input audio buffer yourself (input_audio_buffer.commit, then "
                "response.create), or run the server with a VAD engine.",
                param,
                "unsupported_turn_detection",
            )
        check_turn_detection(turn_detection, param)
    tools = data.get("tools") or []
    check_tools(tools, f"{prefix}.tools")
    check_tool_choice(data.get("tool_choice"), tools, f"{prefix}.tool_choice")
    problem = truncation_problem(data.get("truncation"))
    if problem is not None:
        raise refusal(problem, f"{prefix}.truncation")


def check_turn_detection(value: Mapping[str, Any], param: str) -> None:
    """Ranges the schema does not check: a probability and non-negative durations."""
    threshold = value.get("threshold")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise refusal(
            f"threshold is a speech probability between 0.0 and 1.0 (got {threshold}); higher "
            "needs louder, clearer speech to start a turn.",
            f"{param}.threshold",
        )
    for name in ("prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
        ms = value.get(name)
        if ms is not None and ms < 0:
            raise refusal(
                f"{name} is a duration and cannot be negative (got {ms}).", f"{param}.{name}"
            )


def check_voice(voice: Any, voices: Sequence[str], param: str) -> None:
    """Refuse a voice the TTS engine cannot speak, listing the ones it can.

    Checked at ``session.update`` (where the client can still fix it) rather
    than failing the first response at synthesis. A custom voice object
    (``{"id": "voice_…"}``) is a hosted voice clone no local engine holds.
    """
    if isinstance(voice, str) and voice in voices:
        return
    listed = ", ".join(voices) or "none"
    if isinstance(voice, Mapping):
        what = f"The custom voice {quoted(str(voice.get('id')))} is not available here"
    else:
        what = f"The voice {quoted(str(voice))} is not one this server's TTS engine speaks"
    raise refusal(
        f"{what}; set audio.output.voice to one of: {listed}.", param, "unsupported_voice"
    )


def check_modalities(value: Sequence[str] | None, param: str) -> None:
    if value is not None and len(set(value)) != 1:
        raise refusal(
            f"output_modalities must be exactly one of ['audio'] or ['text'] (got {list(value)}); "
            "audio output always comes with its transcript.",
            param,
        )


def check_max_output_tokens(value: Any, param: str) -> None:
    if isinstance(value, int) and not 1 <= value <= MAX_OUTPUT_TOKENS:
        raise refusal(
            f"max_output_tokens must be between 1 and {MAX_OUTPUT_TOKENS}, or 'inf' (got {value}).",
            param,
        )


def check_speed(value: float, param: str) -> None:
    low, high = SPEED_RANGE
    if not low <= value <= high:
        raise refusal(f"speed must be between {low} and {high} (got {value}).", param)


def check_tools(tools: Sequence[Mapping[str, Any]], param: str) -> None:
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        where = f"{param}[{index}]"
        if tool.get("type") == "mcp":
            continue  # checked against the server's MCP allowlist (server/mcp/tool_spec.py)
        if tool.get("type", "function") != "function":
            raise refusal(
                f"Tool type {quoted(str(tool.get('type')))} is not supported by this server; only "
                "function and mcp tools are.",
                f"{where}.type",
                "unsupported_tool_type",
            )
        name = tool.get("name")
        if not name:
            raise refusal(
                "A function tool needs a 'name'.", f"{where}.name", "missing_required_parameter"
            )
        if name in seen:
            raise refusal(
                f"Two tools are named {quoted(str(name))}; tool names must be unique.",
                f"{where}.name",
            )
        seen.add(name)


def check_tool_choice(choice: Any, tools: Sequence[Mapping[str, Any]], param: str) -> None:
    if not isinstance(choice, Mapping):
        return
    if choice.get("type") != "function":
        raise refusal(
            f"tool_choice type {quoted(str(choice.get('type')))} is not supported by this server; "
            "use 'auto', 'none', 'required' or a function.",
            f"{param}.type",
            "unsupported_tool_type",
        )
    names = [tool.get("name") for tool in tools]
    if choice.get("name") not in names:
        raise refusal(
            f"tool_choice names the function {quoted(str(choice.get('name')))}, which is not "
            f"among the tools ({_names(names)}); add it to tools first.",
            f"{param}.name",
        )


def _names(names: Sequence[object], shown: int = 10) -> str:
    """The tools' names for a message: each quoted bounded, the first ``shown`` of them."""
    if not names:
        return "none"
    listed = ", ".join(quoted(str(name)) for name in names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")
