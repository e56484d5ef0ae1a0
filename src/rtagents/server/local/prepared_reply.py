"""What a response uses of a reply prepared during the turn's end silence.

The speculation (``speculation.py``) prepares it; the response run and its
message writer only claim its LLM stream, take its first clause's speech, or
discard it. Naming that here keeps the response side from importing the
speculation (which itself builds on the response's writer rules).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from ...engines.base import LLMChunk, LLMRequest


class PreparedReply(Protocol):
    """A reply held for a response: usable only if the response asks exactly for it."""

    async def claim(self, request: LLMRequest) -> AsyncIterator[LLMChunk] | None:
        """The held LLM stream if ``request`` is the one it answers, else None (discarded)."""
        ...

    def speech(self, text: str, voice: str, speed: float) -> AsyncIterator[bytes] | None:
        """The held speech of ``text`` if it is the clause prepared, in that voice and speed."""
        ...

    def discard(self) -> None:
        """Let it go (its LLM stream closed, its speech dropped)."""
        ...
