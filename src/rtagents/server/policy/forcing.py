"""The policy's forced fields: what reaches the backend whatever the client sent.

Forcing is an update laid over what the client set, so it composes with the
usual ``session.update`` merge: a forced ``audio.output.voice`` leaves the
client's ``audio.input`` alone. The instructions prefix goes in front of the
client's instructions once; instructions that already start with it (a
client echoing ``session.updated`` back) are left as they are. Transcription
sessions have none of these fields and are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .table import Policy, thawed

# The fields a response.create may override that a session's forced value must still win.
RESPONSE_FIELDS: Final = frozenset(
    {"instructions", "tools", "tool_choice", "max_output_tokens", "output_modalities", "prompt"}
)
# Of audio.output, what a response may set (speed is session-only).
RESPONSE_AUDIO_OUTPUT: Final = frozenset({"voice", "format"})


def forced_update(policy: Policy, fields: Mapping[str, Any]) -> dict[str, Any]:
    """What to lay over session ``fields`` so the policy holds ({} when nothing changes)."""
    if fields.get("type") == "transcription":
        return {}
    update: dict[str, Any] = thawed(policy.forced_fields)
    text = update.get("instructions", fields.get("instructions"))
    if policy.instructions_prefix and isinstance(text, str):
        update["instructions"] = prefixed(policy.instructions_prefix, text)
    return update


def forced_session(policy: Policy, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A session.update's set ``fields`` with the forced ones laid over them."""
    return overlaid(fields, forced_update(policy, fields))


def forced_response(policy: Policy, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A response.create's ``fields`` with the forced values of the fields it overrides."""
    update: dict[str, Any] = {}
    forced = policy.forced_fields
    for key in RESPONSE_FIELDS & fields.keys() & forced.keys():
        update[key] = thawed(forced[key])
    voice_and_format = _response_audio(forced, fields)
    if voice_and_format:
        update["audio"] = {"output": voice_and_format}
    text = update.get("instructions", fields.get("instructions"))
    if policy.instructions_prefix and isinstance(text, str):
        update["instructions"] = prefixed(policy.instructions_prefix, text)
    return overlaid(fields, update)


def _response_audio(forced: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """Forced audio.output voice/format, for those the response itself sets."""
    forced_out = (forced.get("audio") or {}).get("output") or {}
    asked = (fields.get("audio") or {}).get("output") or {}
    if not isinstance(forced_out, Mapping) or not isinstance(asked, Mapping):
        return {}
    keys = RESPONSE_AUDIO_OUTPUT & forced_out.keys() & asked.keys()
    return {key: thawed(forced_out[key]) for key in keys}


def prefixed(prefix: str, text: str) -> str:
    return text if text.startswith(prefix) else prefix + text


def overlaid(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` laid over it, mappings merged key by key at every depth."""
    out = dict(base)
    for key, value in update.items():
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            out[key] = overlaid(current, value)
        else:
            out[key] = value
    return out
