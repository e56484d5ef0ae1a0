"""Whisper's side of the transcription options: prompt and keywords, languages, logprobs.

Whisper was trained to continue a transcript: text placed after its
``<|startofprev|>`` token, before the start of the transcript, is taken as
what was said just before. That is where the session's ``prompt`` and
``keywords`` go (faster-whisper's ``initial_prompt`` and ``hotwords`` use the
same slot), so a rare name the speaker is likely to say is one the decoder has
"just seen" (measured in docs/benchmarks.md, ``bench/transcription_keywords.py``).
At most :data:`MAX_CONTEXT_TOKENS` of it count, the newest kept, as in
Whisper's own decoding.

Log probabilities are the decoder's own: the transcript's tokens are scored
once more, teacher-forced after the same prompt (CTranslate2's ``align``), which
gives P(token | audio, prompt, the tokens before it), the probability greedy
decoding chose it with. Each comes with the token's text and raw bytes (a
token may hold part of a UTF-8 character).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from typing import Any, Final

from ..base import TokenLogprob, TranscriptionHints

MAX_CONTEXT_TOKENS: Final = 223  # half of Whisper's 448-token window, less the marker
# Tokens are rarely under 2 characters, so the newest 2,000 hold the 223 kept; a
# session's huge keyword list is not tokenized whole on every transcription.
MAX_CONTEXT_CHARS: Final = 2000
_MIN_PROBABILITY: Final = 1e-30  # a probability of 0 still gets a finite log


def context_text(hints: TranscriptionHints | None) -> str:
    """The text placed before the transcript: the keywords, then the prompt."""
    if hints is None:
        return ""
    parts = []
    keywords = [k.strip() for k in hints.keywords if k.strip()]
    if keywords:
        parts.append(", ".join(keywords) + ".")
    if hints.prompt.strip():
        parts.append(hints.prompt.strip())
    return " ".join(parts)


def prompt_tokens(tokenizer: Any, hints: TranscriptionHints | None) -> list[int]:
    """The decoder's prompt: the context (if any), then the start of a transcript."""
    start = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    text = context_text(hints)
    if not text:
        return start
    context = tokenizer.encode(" " + text[-MAX_CONTEXT_CHARS:])[-MAX_CONTEXT_TOKENS:]
    return [tokenizer.sot_prev, *context, *start]


def pick_language(detected: Sequence[tuple[str, float]], candidates: Sequence[str]) -> str:
    """The likeliest language among ``candidates`` (all of Whisper's when there are none).

    ``detected`` is Whisper's ranking, most probable first, as ``("<|en|>", p)``.
    """
    codes = [token[2:-2] for token, _ in detected]
    allowed = set(candidates)
    for code in codes:
        if not allowed or code in allowed:
            return code
    return codes[0]


def token_logprobs(
    model: Any, encoded: Any, prompt: list[int], tokens: list[int], tokenizer: Any, frames: int
) -> tuple[TokenLogprob, ...]:
    """Each transcript token with the log probability the decoder gave it after ``prompt``."""
    if not tokens:
        return ()
    aligned = model.model.align(encoded, prompt, [[*tokens, tokenizer.eot]], frames)[0]
    probabilities = list(aligned.text_token_probs)[: len(tokens)]
    decoder = _byte_decoder()
    out = []
    for token, probability in zip(tokens, probabilities, strict=False):
        piece = tokenizer.tokenizer.id_to_token(token) or ""
        raw = bytes(decoder[c] for c in piece if c in decoder)
        out.append(
            TokenLogprob(
                token=raw.decode("utf-8", errors="replace"),
                bytes=raw,
                logprob=math.log(max(float(probability), _MIN_PROBABILITY)),
            )
        )
    return tuple(out)


@cache
def _byte_decoder() -> dict[str, int]:
    """Whisper's byte-level BPE alphabet back to bytes.

    Byte-level BPE writes each byte as one printable character: printable
    Latin-1 bytes stand for themselves, the other 68 are shifted to 256 and up
    in order.
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("\u00a1"), ord("\u00ac") + 1),
        *range(ord("\u00ae"), ord("\u00ff") + 1),
    ]
    mapping = {chr(b): b for b in printable}
    shifted = 0
    for b in range(256):
        if b not in printable:
            mapping[chr(256 + shifted)] = b
            shifted += 1
    return mapping
