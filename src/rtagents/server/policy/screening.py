"""The policy's refusals: a model, a tool or instructions a session or response may not use.

Each check reads the fields a client set (a ``session.update``'s session, a
``response.create``'s response, a client secret's or call's session) and
returns the error to answer with, naming the field, the policy setting that
refused it and what to do instead; None when the fields are allowed. The
host answers events with it (the session goes on); the secret and call
endpoints turn it into a 400.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...protocol.client_text import quoted
from ...protocol.errors import RemoteProtocolError
from .table import Policy


def fields_refusal(
    policy: Policy, fields: Mapping[str, Any], part: str, *, quote_chars: int = 200
) -> RemoteProtocolError | None:
    """The first rule ``fields`` (of ``part``: "session" or "response") break, or None."""
    if fields.get("type") == "transcription":
        return None  # no model, tools or instructions to screen
    if part == "session" and "model" in fields:
        refusal = model_refusal(policy, fields["model"], f"{part}.model", quote_chars)
        if refusal is not None:
            return refusal
    tools = fields.get("tools")
    if isinstance(tools, Sequence):
        refusal = _tools_refusal(policy, tools, part, quote_chars)
        if refusal is not None:
            return refusal
    refusal = _tool_choice_refusal(policy, fields.get("tool_choice"), part, quote_chars)
    if refusal is not None:
        return refusal
    return _instructions_refusal(policy, fields.get("instructions"), part)


def model_refusal(
    policy: Policy, model: Any, param: str, quote_chars: int = 200
) -> RemoteProtocolError | None:
    allowed = policy.allowed_models
    if allowed is None or not isinstance(model, str) or model in allowed:
        return None
    return RemoteProtocolError(
        f"{param} {quoted(model, quote_chars)} is not allowed by this gateway's policy "
        f"(policy.allowed_models: {_listed(allowed)}); use one of those models.",
        code="model_not_allowed",
        param=param,
    )


def _tools_refusal(
    policy: Policy, tools: Sequence[Any], part: str, quote_chars: int
) -> RemoteProtocolError | None:
    types, names = policy.tool_types, policy.allowed_functions
    for index, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            continue  # the schema refuses it with its own error
        kind = tool.get("type")
        if types is not None and kind not in types:
            setting = (
                "allowed_tool_types"
                if policy.allowed_tool_types is not None
                else ("allowed_functions, which admits function tools only")
            )
            return RemoteProtocolError(
                f"{part}.tools[{index}] is a {quoted(str(kind), quote_chars)} tool, a type this "
                f"gateway's policy does not allow (policy.{setting}: {_listed(types)}); remove it "
                "or use an allowed tool type.",
                code="tool_not_allowed",
                param=f"{part}.tools[{index}].type",
            )
        name = tool.get("name")
        if kind == "function" and names is not None and name not in names:
            return RemoteProtocolError(
                f"{part}.tools[{index}] defines the function {quoted(str(name), quote_chars)}, "
                f"which this gateway's policy does not allow (policy.allowed_functions: "
                f"{_listed(names)}); remove it or ask the operator to allow it.",
                code="tool_not_allowed",
                param=f"{part}.tools[{index}].name",
            )
    return None


def _tool_choice_refusal(
    policy: Policy, choice: Any, part: str, quote_chars: int
) -> RemoteProtocolError | None:
    """A tool_choice forcing a function the allowlist leaves out."""
    names = policy.allowed_functions
    if names is None or not isinstance(choice, Mapping) or choice.get("type") != "function":
        return None
    name = choice.get("name")
    if name in names:
        return None
    return RemoteProtocolError(
        f"{part}.tool_choice names the function {quoted(str(name), quote_chars)}, which this "
        f"gateway's policy does not allow (policy.allowed_functions: {_listed(names)}); "
        "choose an allowed function, or 'auto'.",
        code="tool_not_allowed",
        param=f"{part}.tool_choice.name",
    )


def _instructions_refusal(policy: Policy, text: Any, part: str) -> RemoteProtocolError | None:
    limit = policy.max_instructions_bytes
    if not limit or not isinstance(text, str):
        return None
    written = text.removeprefix(policy.instructions_prefix) if policy.instructions_prefix else text
    size = len(written.encode("utf-8", "surrogatepass"))
    if size <= limit:
        return None
    return RemoteProtocolError(
        f"{part}.instructions is {size} bytes (UTF-8); this gateway's policy accepts at most "
        f"{limit} (policy.max_instructions_bytes). Shorten the instructions, or keep reference "
        "material in conversation items instead.",
        code="instructions_too_large",
        param=f"{part}.instructions",
    )


def _listed(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values) if values else "none"
