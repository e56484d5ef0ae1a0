"""What one response will do: the session config and the response's overrides, resolved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ...protocol.audio import AudioFormat


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponsePlan:
    """Everything a response needs, the session config and overrides resolved."""

    conversation: Literal["auto", "none"]
    instructions: str
    audio: bool
    voice: str
    speed: float
    output_format: AudioFormat
    tools: Sequence[Mapping[str, Any]]
    tool_choice: Any
    max_output_tokens: int | None
    metadata: Mapping[str, str] | None
    input: Sequence[Mapping[str, Any]] | None
