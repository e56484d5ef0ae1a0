"""A response's ``usage``: tokens counted by the model's tokenizer, audio at the hosted rates.

Text tokens are what the model read and wrote: the engine's own report
(llama.cpp's ``prompt_tokens``/``completion_tokens``, ``cached_tokens`` from
its prompt cache), else the server's count of the fitted prompt with the
same tokenizer (:mod:`rtagents.engines.token_count`). The model reads audio
turns as their transcripts, and those are in the text tokens.

Audio tokens follow the hosted API's published rates ("Audio tokens in user
messages are 1 token per 100 ms of audio, while audio tokens in assistant
messages are 1 token per 50ms of audio", developers.openai.com, Realtime
guide, "Managing costs"): the input side counts the audio of the turns sent
to the model (user audio at 100 ms, earlier assistant audio at 50 ms), the
output side the audio this response produced (50 ms). As in the hosted
schema, ``input_tokens`` and ``output_tokens`` are text plus audio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...engines.base import EngineFailure, Usage
from ...engines.token_count import PromptMeasuring, words

USER_AUDIO_MS_PER_TOKEN = 100.0
ASSISTANT_AUDIO_MS_PER_TOKEN = 50.0


def audio_tokens(ms: float, ms_per_token: float) -> int:
    """Tokens for ``ms`` of audio (a started token counts)."""
    return math.ceil(ms / ms_per_token) if ms > 0 else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenCounts:
    """One response's counts, by direction and modality."""

    text_in: int = 0
    cached_in: int = 0
    audio_in: int = 0
    text_out: int = 0
    audio_out: int = 0

    @property
    def input_tokens(self) -> int:
        return self.text_in + self.audio_in

    @property
    def output_tokens(self) -> int:
        return self.text_out + self.audio_out

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_wire(self) -> dict[str, Any]:
        """The ``usage`` object of ``response.done`` (GA shape)."""
        return {
            "total_tokens": self.total_tokens,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "input_token_details": {
                "text_tokens": self.text_in,
                "audio_tokens": self.audio_in,
                "image_tokens": 0,
                "cached_tokens": self.cached_in,
                "cached_tokens_details": {
                    "text_tokens": self.cached_in,
                    "audio_tokens": 0,
                    "image_tokens": 0,
                },
            },
            "output_token_details": {"text_tokens": self.text_out, "audio_tokens": self.audio_out},
        }


@dataclass(slots=True)
class _Round:
    prompt_tokens: int  # the server's count of what was sent
    audio_tokens: int
    reported: Usage | None = None  # the engine's own count, when it gives one
    generated: str = ""


class UsageTally:
    """The counts of one response across its model rounds (MCP calls add rounds)."""

    def __init__(self) -> None:
        self._rounds: list[_Round] = []

    def start_round(self, prompt_tokens: int, audio_tokens: int) -> None:
        self._rounds.append(_Round(prompt_tokens, audio_tokens))

    def engine_report(self, usage: Usage) -> None:
        if self._rounds:
            self._rounds[-1].reported = usage

    def generated(self, text: str) -> None:
        if self._rounds:
            self._rounds[-1].generated += text

    async def counts(self, measurer: PromptMeasuring, audio_out_ms: float) -> TokenCounts:
        """The response's counts; a round the engine did not report is counted here."""
        text_in = cached = audio_in = text_out = 0
        for round_ in self._rounds:
            audio_in += round_.audio_tokens
            if round_.reported is not None:
                text_in += round_.reported.input_tokens
                cached += round_.reported.cached_tokens
                text_out += round_.reported.output_tokens
                continue
            text_in += round_.prompt_tokens
            text_out += await _count(measurer, round_.generated)
        return TokenCounts(
            text_in=text_in,
            cached_in=cached,
            audio_in=audio_in,
            text_out=text_out,
            audio_out=audio_tokens(audio_out_ms, ASSISTANT_AUDIO_MS_PER_TOKEN),
        )


async def _count(measurer: PromptMeasuring, text: str) -> int:
    try:
        return await measurer.count_text(text)
    except EngineFailure:  # the tokenizer went away with the engine: count words
        return words(text)
