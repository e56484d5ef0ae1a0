"""The retail agents' output guardrail: OFFENSIVE, OFF_BRAND, VIOLENCE or NONE.

The reference app asks a text model to classify. Offline and in tests the
verdict must be the same every run, so this classifier is keyword rules,
checked in order of severity; it is a declared stand-in, not a model. An app
with a capable model would swap :func:`classify` for a call to it (the
guardrail function may be async).
"""

from __future__ import annotations

import re
from typing import Any

from ..agents import GuardrailFunctionOutput, RunContext, output_guardrail

# Most severe first: a reply that is both violent and rude is reported as VIOLENCE.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("VIOLENCE", ("kill", "hurt you", "punch", "weapon", "attack", "beat you up")),
    ("OFFENSIVE", ("idiot", "stupid", "moron", "shut up", "dumb")),
    # Rival brands and disparaging the trade: the store speaks only of its own goods.
    ("OFF_BRAND", ("frostline", "glacier gear", "competitor", "overpriced junk")),
)
_PATTERNS = [
    (label, re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)", re.I))
    for label, words in CATEGORIES
]


def classify(text: str) -> tuple[str, str | None]:
    """The category of ``text`` and the words that decided it (``NONE``, None if clean)."""
    for label, pattern in _PATTERNS:
        found = pattern.search(text)
        if found is not None:
            return label, found.group(0)
    return "NONE", None


@output_guardrail(name="brand_safety")
def brand_safety(ctx: RunContext[Any], agent: Any, transcript: str) -> GuardrailFunctionOutput:
    """Trips on anything but NONE; ``output_info`` says which category and why."""
    label, matched = classify(transcript)
    info = {"classification": label, "matched": matched}
    return GuardrailFunctionOutput(tripwire_triggered=label != "NONE", output_info=info)
