"""``audio.input.transcription`` options as the STT engine takes them, and logprobs on the wire.

``prompt``, ``keywords``, ``language`` and ``languages`` become
:class:`~rtagents.engines.base.TranscriptionHints` (Whisper: the decoder's
context and the language detection's candidates, see
``engines/local/whisper_hints.py``). ``delay`` is accepted and has no effect:
the server already transcribes while the user speaks and sends what is
stable at the commit. Log probabilities are computed only when the session's
``include`` asks for ``item.input_audio_transcription.logprobs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...engines.base import TokenLogprob, TranscriptionHints
from .session_config import SessionConfig

LOGPROBS_INCLUDE = "item.input_audio_transcription.logprobs"


def wants_logprobs(config: SessionConfig) -> bool:
    """The session asked for transcription logprobs (``include``)."""
    return LOGPROBS_INCLUDE in (config.data.get("include") or ())


def language_of(settings: Mapping[str, Any] | None) -> str | None:
    value = settings.get("language") if settings else None
    return value if isinstance(value, str) and value else None


def hints_for(config: SessionConfig, *, partial: bool = False) -> TranscriptionHints | None:
    """What the STT engine is told besides the language; None when nothing is set.

    A ``partial`` transcription (of a turn still in progress) never computes
    logprobs: only the item's final transcript carries them.
    """
    settings = config.transcription or {}
    hints = TranscriptionHints(
        prompt=str(settings.get("prompt") or ""),
        keywords=tuple(str(k) for k in settings.get("keywords") or ()),
        languages=tuple(str(code) for code in settings.get("languages") or ()),
        logprobs=wants_logprobs(config) and not partial,
    )
    return hints if hints else None


def wire_logprobs(logprobs: Sequence[TokenLogprob]) -> list[dict[str, Any]]:
    """The GA ``logprobs`` array: token, its bytes as integers, its log probability."""
    return [
        {"token": lp.token, "bytes": list(lp.bytes), "logprob": round(lp.logprob, 6)}
        for lp in logprobs
    ]


def logprobs_after(logprobs: Sequence[TokenLogprob], sent: str) -> list[TokenLogprob]:
    """The tokens of a transcript past its first ``sent`` characters (already delivered).

    Offsets are counted in bytes (a token may hold part of a character), after
    the leading space Whisper writes and the transcript has stripped.
    """
    if not sent:
        return list(logprobs)
    whole = b"".join(lp.bytes for lp in logprobs)
    start = len(whole) - len(whole.lstrip()) + len(sent.encode())
    out, end = [], 0
    for lp in logprobs:
        end += len(lp.bytes)
        if end > start:
            out.append(lp)
    return out
