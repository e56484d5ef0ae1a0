"""What part of an assistant message's text its produced audio actually speaks.

The writer announces each clause's transcript, then synthesises its audio. A
response cut while a clause is being spoken (``response.cancel``, a barge-in,
a TTS failure) must not keep the rest of that clause: the caller never heard
it, and the model would remember it next turn. TTS engines give no word
timings, so the cut is estimated from the speech rate of the clauses already
spoken in full (or a deliberately slow assumed rate before the first), and
only whole words whose estimated end lies inside the produced audio are kept:
a cancelled transcript may miss a word that was heard, never claim one that
was not.
"""

from __future__ import annotations

import re

# Slower than any voice we ship speaks at speed 1.0 (Piper and espeak-ng say
# 12-16 characters a second, about 60-80 ms each), so an estimate made before
# any clause was timed errs towards keeping too little.
ASSUMED_MS_PER_CHAR = 90.0

_WORD = re.compile(r"\S+")


class SpokenText:
    """The transcript of one audio message, clause by clause, with the audio each got."""

    __slots__ = (
        "text",
        "produced_ms",
        "_clause_start",
        "_clause_ms",
        "_timed_chars",
        "_timed_ms",
        "_assumed",
    )

    def __init__(self, *, speed: float = 1.0) -> None:
        self.text = ""  # announced so far; after :meth:`cut_to_audio`, what was spoken
        self.produced_ms = 0.0  # all audio produced, a cut clause's too (usage counts it)
        self._clause_start = 0
        self._clause_ms = 0.0
        self._timed_chars = 0  # characters of clauses spoken in full ...
        self._timed_ms = 0.0  # ... and the audio they took: the measured speech rate
        self._assumed = ASSUMED_MS_PER_CHAR / speed

    def begin_clause(self, clause: str) -> None:
        self._clause_start = len(self.text)
        self._clause_ms = 0.0
        self.text += clause

    def add_audio(self, ms: float) -> None:
        """Audio of the current clause that was produced (sent, or queued on a call)."""
        self._clause_ms += ms
        self.produced_ms += ms

    def end_clause(self) -> None:
        """The current clause was spoken in full: it times the speech rate."""
        self._timed_chars += len(self.text) - self._clause_start
        self._timed_ms += self._clause_ms
        self._clause_start = len(self.text)
        self._clause_ms = 0.0

    @property
    def ms_per_char(self) -> float:
        if self._timed_chars and self._timed_ms > 0:
            return self._timed_ms / self._timed_chars
        return self._assumed

    def cut_to_audio(self) -> None:
        """The current clause was interrupted: keep only its words the audio covered."""
        clause = self.text[self._clause_start :]
        if not clause:
            return
        spoken_chars = self._clause_ms / self.ms_per_char + 1e-6
        keep = 0
        for word in _WORD.finditer(clause):
            if word.end() > spoken_chars:
                break
            keep = word.end()
        self.text = (self.text[: self._clause_start] + clause[:keep]).rstrip()
        self._clause_start = len(self.text)
        self._clause_ms = 0.0
