"""One response's LLM request: the history fitted to the model's context, its images checked.

The conversation (or a response's own ``input``) is flattened into chat
turns (:mod:`.history`), each turn is counted with the model's tokenizer
(:mod:`rtagents.engines.token_count`), the oldest turns are left out as the
session's ``truncation`` says (:mod:`.truncation`), and what is left is
checked for images the model cannot read (:mod:`.images`). The counts and
the audio durations of the turns sent are kept for ``usage`` (:mod:`.usage`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...engines.base import ChatMessage, LLMRequest, ToolSpec
from ...engines.token_count import prompt_measurer
from ...protocol.audio import PCM_RATE
from ..host.wire_events import item_dict
from .history import chat_messages, history_turns, tool_choice, tool_specs
from .images import check_images
from .truncation import HistoryWindow, Truncation, input_limit
from .usage import ASSISTANT_AUDIO_MS_PER_TOKEN, USER_AUDIO_MS_PER_TOKEN, audio_tokens

if TYPE_CHECKING:
    from .response_plan import ResponsePlan
    from .session_context import SessionContext

_PCM_BYTES_PER_MS = PCM_RATE * 2 / 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    """What one response sends to the model, and what it costs."""

    request: LLMRequest
    text_tokens: int  # by the server's count, for when the engine reports none
    audio_tokens: int  # the audio of the turns sent, at the hosted rates
    left_out: int  # items of the history not sent (truncation)


async def build_prompt(
    ctx: SessionContext,
    plan: ResponsePlan,
    window: HistoryWindow,
    extra_tools: Sequence[ToolSpec] = (),
) -> Prompt:
    """The request for ``plan``; ``window`` is the session's cut (a custom input has its own).

    ``extra_tools`` are offered besides the plan's function tools (MCP tools).
    """
    if plan.input is not None:
        items: list[Mapping[str, Any]] = list(plan.input)
        window = HistoryWindow()  # a custom input is fitted on its own, remembered nowhere
    else:
        items = [item_dict(item) for item in ctx.conversation.items]
    turns = history_turns(items)
    turn_messages = [await chat_messages(turn, ctx.input.heard) for turn in turns]
    flat: list[ChatMessage] = [m for messages in turn_messages for m in messages]
    tools = [*tool_specs(plan.tools), *extra_tools]
    llm = ctx.state.engines.llm
    measurer = prompt_measurer(llm)
    size = await measurer.measure(plan.instructions, flat, tools)
    sizes, at = [], 0
    for messages in turn_messages:
        sizes.append(sum(size.messages[at : at + len(messages)]))
        at += len(messages)
    policy = Truncation.from_wire(ctx.config.data.get("truncation"))
    limit = input_limit(
        context_tokens=measurer.context_tokens,
        fixed_tokens=size.fixed,
        max_output_tokens=plan.max_output_tokens,
        post_instructions=policy.post_instructions,
    )
    keys = [str(turn[0].get("id") or f"#{index}") for index, turn in enumerate(turns)]
    start = window.fit(keys, sizes, limit, policy)
    kept_items = [item for turn in turns[start:] for item in turn]
    check_images(llm, kept_items, ctx.state.engines.labels.get("llm") or ctx.state.engines.name)
    request = LLMRequest(
        instructions=plan.instructions,
        messages=[m for messages in turn_messages[start:] for m in messages],
        tools=tools,
        tool_choice=tool_choice(plan.tool_choice),
        max_output_tokens=plan.max_output_tokens,
        metadata=dict(plan.metadata or {}),
    )
    return Prompt(
        request=request,
        text_tokens=size.fixed + sum(sizes[start:]),
        audio_tokens=_audio_tokens(ctx, kept_items, window.input_audio_ms),
        left_out=len(items) - len(kept_items),
    )


def _audio_tokens(
    ctx: SessionContext, items: Sequence[Mapping[str, Any]], known_ms: dict[str, float]
) -> int:
    """The audio of the turns sent: user audio at 100 ms a token, assistant audio at 50 ms.

    ``known_ms`` remembers input audio durations (the session's window), pruned
    to the items still in the conversation so it stays bounded.
    """
    for gone in known_ms.keys() - set(ctx.conversation.item_ids):
        del known_ms[gone]
    tokens = 0
    for item in items:
        if item.get("type") != "message":
            continue
        item_id = str(item.get("id") or "")
        kinds = {part.get("type") for part in item.get("content") or []}
        if "input_audio" in kinds:
            kept = ctx.input.audio(item_id)
            if kept:
                known_ms[item_id] = len(kept) / _PCM_BYTES_PER_MS
            ms = known_ms.get(item_id, 0.0)
            tokens += audio_tokens(ms, USER_AUDIO_MS_PER_TOKEN)
        if "output_audio" in kinds:
            ms = ctx.conversation.audio_ms(item_id)
            truncated = ctx.conversation.truncated_ms(item_id)
            if truncated is not None:  # only what was heard stays in the conversation
                ms = min(ms, float(truncated))
            tokens += audio_tokens(ms, ASSISTANT_AUDIO_MS_PER_TOKEN)
    return tokens
