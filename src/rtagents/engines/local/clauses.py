"""Cut reply text into clauses so speech can start before the whole reply is rendered.

Time to first audio is what a caller hears, so the TTS engines synthesize and
yield one clause at a time. Cuts go after sentence punctuation, after ``;`` and
``:``, and after a comma once the piece has a few words (cutting "Yes, sir"
apart makes choppy prosody for no gain). Punctuation only counts when followed
by whitespace, so "3.5" and "1,000" stay whole. A run of words with no
punctuation is cut every ``MAX_WORDS`` words so one long clause cannot stall
the stream.
"""

from __future__ import annotations

import re
from typing import Final

MIN_COMMA_WORDS: Final = 4
MAX_WORDS: Final = 30
_CUT = re.compile(r"(?<=[.!?;:,\u2026])\s+")
_SPOKEN = re.compile(r"\w")


def split_clauses(text: str) -> list[str]:
    """The clauses of ``text`` in order; pieces with nothing speakable are dropped."""
    clauses: list[str] = []
    current: list[str] = []
    for piece in _CUT.split(text.strip()):
        current.append(piece)
        words = sum(len(part.split()) for part in current)
        if not piece.endswith(",") or words >= MIN_COMMA_WORDS:
            clauses.extend(_cap(" ".join(current)))
            current = []
    if current:
        clauses.extend(_cap(" ".join(current)))
    return [clause for clause in clauses if _SPOKEN.search(clause)]


def _cap(clause: str) -> list[str]:
    words = clause.split()
    return [" ".join(words[i : i + MAX_WORDS]) for i in range(0, len(words), MAX_WORDS)]
