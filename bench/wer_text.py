"""Text normalisation for the word error rate bench: what counts as the same word.

Whisper writes numbers as digits ("at 3"), the clip texts spell them out
("at three"); it spells American ("neighbors"), some texts British. Both
sides are normalised the same way before words are compared: lower case,
thousands separators dropped, every run of digits spelled out, the spellings
below mapped, then (in ``speech_clips.words``) hyphens made spaces and all
punctuation but apostrophes dropped.
"""

from __future__ import annotations

import re

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
# British spellings in the texts -> what Whisper writes.
SPELLINGS = {"neighbours": "neighbors", "colour": "color", "favourite": "favorite"}


def spell_number(n: int) -> str:
    """``n`` (0 to 999,999) in words, as the texts write it: 42 -> "forty two"."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = "" if n % 100 == 0 else " " + spell_number(n % 100)
        return f"{_ONES[n // 100]} hundred{rest}"
    if n < 1_000_000:
        rest = "" if n % 1000 == 0 else " " + spell_number(n % 1000)
        return f"{spell_number(n // 1000)} thousand{rest}"
    return str(n)


def normalise(text: str) -> str:
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text.lower())
    text = re.sub(r"\d+", lambda m: f" {spell_number(int(m.group()))} ", text)
    return re.sub(r"[a-z']+", lambda m: SPELLINGS.get(m.group(), m.group()), text)
