"""Fitting the conversation into the model's context: the session's ``truncation``, as hosted.

The hosted API sends instructions plus as much of the conversation as fits
under the input limit: the model's context window minus the tokens kept for
the reply (a 32k model with 4,096 output tokens keeps 28,224 for input). Past
it, the oldest turns are left out:

- ``"auto"`` leaves out just enough, so once a session reaches the ceiling
  the cut moves on (and the cached prompt prefix changes) nearly every turn;
- ``{"type": "retention_ratio", "retention_ratio": r}`` leaves out the oldest
  turns until only ``r`` of the limit is used, so the next several turns fit
  without another cut and the prompt prefix stays the same (cacheable);
  ``token_limits.post_instructions`` lowers the limit below the model's;
- ``"disabled"`` never leaves anything out: the response fails with
  ``context_length_exceeded`` instead.

A turn is a message item with the function calls and outputs that follow it,
so a call is never sent without its result or the other way round. The cut is
remembered per session (:class:`HistoryWindow`): items left out stay out, which
is what keeps the prefix stable between turns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

# Output tokens kept free when a response has no max_output_tokens: an eighth
# of the window (512 of SmolLM2's 4,096; the hosted 32k models keep 4,096).
DEFAULT_OUTPUT_SHARE = 8
# The error code of a conversation that cannot be fitted (the OpenAI API's code
# for an input over the context window; the hosted Realtime docs name none).
CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"


@dataclass(frozen=True, slots=True)
class Truncation:
    """A session's ``truncation`` setting, parsed (the rules checked its shape)."""

    mode: Literal["auto", "disabled", "retention_ratio"] = "auto"
    retention_ratio: float = 1.0
    post_instructions: int | None = None

    @classmethod
    def from_wire(cls, value: Any) -> Truncation:
        if value == "disabled":
            return cls("disabled")
        if isinstance(value, Mapping) and value.get("type") == "retention_ratio":
            ratio = float(value.get("retention_ratio", 1.0))
            limits = value.get("token_limits") or {}
            post = limits.get("post_instructions") if isinstance(limits, Mapping) else None
            return cls("retention_ratio", min(max(ratio, 0.0), 1.0), post)
        return cls("auto")


def truncation_problem(value: Any) -> str | None:
    """Why a ``truncation`` setting cannot be honoured (None: it can); ranges the schema skips."""
    if not isinstance(value, Mapping):
        return None
    ratio = value.get("retention_ratio")
    if isinstance(ratio, int | float) and not 0.0 <= ratio <= 1.0:
        return (
            f"truncation.retention_ratio must be between 0.0 and 1.0 (the fraction of the "
            f"input limit kept after a cut), got {ratio!r}."
        )
    limits = value.get("token_limits")
    post = limits.get("post_instructions") if isinstance(limits, Mapping) else None
    if isinstance(post, int) and post < 1:
        return (
            "truncation.token_limits.post_instructions must be a positive number of tokens, "
            f"got {post!r}; leave it out to use the model's own limit."
        )
    return None


class ContextOverflow(Exception):
    """The conversation cannot be fitted: the response fails with ``context_length_exceeded``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def input_limit(
    *,
    context_tokens: int | None,
    fixed_tokens: int,
    max_output_tokens: int | None,
    post_instructions: int | None,
) -> int | None:
    """Tokens the conversation may use after the instructions (None: no known bound)."""
    limit: int | None = None
    if context_tokens is not None:
        reserve = max_output_tokens or context_tokens // DEFAULT_OUTPUT_SHARE
        limit = context_tokens - fixed_tokens - min(reserve, context_tokens // 2)
    if post_instructions is not None:
        limit = post_instructions if limit is None else min(limit, post_instructions)
    return limit


def fit_start(sizes: Sequence[int], start: int, limit: int, retain: float) -> int | None:
    """Index of the oldest turn to send, given the current ``start`` (None: nothing fits).

    Nothing moves while ``sizes[start:]`` fits ``limit``. Past it, turns are
    left out oldest first until what remains fits ``retain * limit`` (and
    always ``limit``); the newest turn is never left out: when it alone is
    over ``limit``, nothing can be sent.
    """
    if not sizes:
        return 0
    start = min(max(start, 0), len(sizes) - 1)
    remaining = sum(sizes[start:])
    if remaining <= limit:
        return start
    if sizes[-1] > limit:
        return None
    target = min(limit, int(limit * retain))
    while start < len(sizes) - 1 and remaining > target:
        remaining -= sizes[start]
        start += 1
    return start


class HistoryWindow:
    """One session's cut: the items left out of the model's view stay left out."""

    def __init__(self) -> None:
        self._dropped: set[str] = set()
        self.cuts = 0  # how many times the cut moved (a cache bust each)
        # Input audio durations by item id, remembered while the item exists:
        # the audio itself may be let go (input_audio.KEPT_AUDIO_BYTES), usage still counts it.
        self.input_audio_ms: dict[str, float] = {}

    def start(self, keys: Sequence[str]) -> int:
        """Where the kept history begins: past the leading turns already left out."""
        self._dropped.intersection_update(keys)  # deleted items are forgotten (bounded)
        index = 0
        while index < len(keys) and keys[index] in self._dropped:
            index += 1
        return index

    def fit(
        self, keys: Sequence[str], sizes: Sequence[int], limit: int | None, policy: Truncation
    ) -> int:
        """The index of the oldest turn to send now; raises :class:`ContextOverflow`."""
        start = self.start(keys) if policy.mode != "disabled" else 0
        if limit is None:
            return start
        kept = sum(sizes[start:])
        if policy.mode == "disabled":
            if kept > limit:
                raise ContextOverflow(_overflow_message(kept, limit, disabled=True))
            return 0
        retain = policy.retention_ratio if policy.mode == "retention_ratio" else 1.0
        new_start = fit_start(sizes, start, limit, retain)
        if new_start is None:
            raise ContextOverflow(_overflow_message(sizes[-1], limit, disabled=False))
        if new_start != start:
            self._dropped.update(keys[:new_start])
            self.cuts += 1
        return new_start


def _overflow_message(tokens: int, limit: int, *, disabled: bool) -> str:
    if limit <= 0:
        return (
            "The instructions and tools alone leave no room for the conversation in the "
            "model's context window; shorten session.instructions or the tools."
        )
    if disabled:
        return (
            f"The conversation needs {tokens} tokens after the instructions, over the "
            f'model\'s input limit of {limit}, and session.truncation is "disabled", so '
            'nothing was left out. Set truncation to "auto" or a retention_ratio, or '
            "delete items with conversation.item.delete."
        )
    return (
        f"The newest turn alone needs {tokens} tokens after the instructions, over the "
        f"model's input limit of {limit} (session.truncation), so it cannot be sent; "
        "send a shorter message or raise token_limits.post_instructions."
    )
