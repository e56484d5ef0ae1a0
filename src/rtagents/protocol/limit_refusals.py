"""The rules that bound a session: sizes of instructions and tools, items, memory.

Rows of :data:`rtagents.protocol.server_rules.RULES` like those of
:mod:`.server_refusals`; each refusal names its limit (``limit <name>``, a
field of the server's limits table) so an operator and a client developer
both know which setting was reached and what to do instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .json_depth import nesting_depth
from .server_facts import PCM16_BYTES_PER_MS, Refuse, Request, SessionFacts

# --- what a session holds ----------------------------------------------------------------


def memory_exceeded(facts: SessionFacts, request: Request) -> Refuse | None:
    budget = facts.memory_budget
    if request.type == "conversation.item.create":
        grows, param = request.item_bytes, "item"
    elif facts.turn_detection:  # the VAD must hear it; the buffer keeps what fits instead
        return None
    else:  # an append, held as 24 kHz pcm16 whatever the input format
        grows = round(request.appended_bytes / facts.input_bytes_per_ms * PCM16_BYTES_PER_MS)
        param = "audio"
    if budget is None or facts.memory_held + grows <= budget:
        return None
    return Refuse(
        "session_memory_exceeded",
        param,
        f"This session holds {facts.memory_held} bytes of input audio and conversation "
        f"items; this event would add {grows}, past its memory budget of {budget} bytes "
        "(limit session_memory_bytes). Nothing was added. Delete items you no longer need "
        "(conversation.item.delete), commit or clear the input audio buffer, or open a new "
        "session.",
    )


def conversation_full(facts: SessionFacts, request: Request) -> Refuse | None:
    limit = facts.max_items
    if limit is None or facts.item_count < limit:
        return None
    return conversation_full_refusal(limit, "item" if request.type.startswith("conv") else None)


def conversation_full_refusal(limit: int, param: str | None) -> Refuse:
    """The refusal for an item the conversation has no room for (a response's too)."""
    return Refuse(
        "conversation_full",
        param,
        f"The conversation holds {limit} items, the most one session may hold (limit "
        "conversation_items); nothing was added. Delete items you no longer need "
        "(conversation.item.delete), or open a new session.",
    )


# --- sizes of instructions and tools (session.update, response.create) ------------------


def instructions_too_large(facts: SessionFacts, request: Request) -> Refuse | None:
    part, fields = _sized_part(request)
    text, limit = fields.get("instructions"), facts.max_instructions_bytes
    if limit is None or not isinstance(text, str) or len(text) * 4 <= limit:
        return None  # 4 bytes per character at most: no need to encode
    size = len(text.encode("utf-8", "surrogatepass"))
    if size <= limit:
        return None
    return Refuse(
        "instructions_too_large",
        f"{part}.instructions",
        f"{part}.instructions is {size} bytes (UTF-8); the most this server accepts is "
        f"{limit} bytes (limit instructions_bytes). Shorten the instructions, or keep "
        "reference material in conversation items instead.",
    )


def too_many_tools(facts: SessionFacts, request: Request) -> Refuse | None:
    part, fields = _sized_part(request)
    tools, limit = fields.get("tools"), facts.max_tools
    if limit is None or not isinstance(tools, list) or len(tools) <= limit:
        return None
    return Refuse(
        "too_many_tools",
        f"{part}.tools",
        f"{part}.tools has {len(tools)} tools; the most this server accepts is {limit} "
        "(limit tools_count). Offer only the tools this part of the conversation needs.",
    )


def tools_too_large(facts: SessionFacts, request: Request) -> Refuse | None:
    part, fields = _sized_part(request)
    tools, limit = fields.get("tools"), facts.max_tools_bytes
    if limit is None or not isinstance(tools, list):
        return None
    dumped = json.dumps(tools, separators=(",", ":"), ensure_ascii=False)
    size = len(dumped.encode("utf-8", "surrogatepass"))
    if size <= limit:
        return None
    return Refuse(
        "tools_too_large",
        f"{part}.tools",
        f"{part}.tools is {size} bytes of JSON; the most this server accepts is {limit} "
        "bytes (limit tools_bytes). Shorten the descriptions and parameter schemas, or offer "
        "fewer tools.",
    )


def tools_too_deep(facts: SessionFacts, request: Request) -> Refuse | None:
    part, fields = _sized_part(request)
    tools, limit = fields.get("tools"), facts.max_json_depth
    if limit is None or not isinstance(tools, list):
        return None
    depth = nesting_depth(tools) + 2  # the event and its session (or response) object
    if depth <= limit:
        return None
    return Refuse(
        "json_too_deep",
        f"{part}.tools",
        f"{part}.tools nests the event {depth} levels deep; the most this server accepts is "
        f"{limit} levels (limit json_depth). Flatten the tools' parameter schemas.",
    )


def _sized_part(request: Request) -> tuple[str, Mapping[str, Any]]:
    if request.type == "response.create":
        return "response", request.response
    return "session", request.session
