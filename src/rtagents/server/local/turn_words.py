"""Whether a turn's transcript reads as finished: the words behind ``semantic_vad``'s wait.

Three verdicts, each with its own silence per eagerness
(``turn_detection.SEMANTIC_SILENCE_MS``):

- ``complete``: the words say the speaker is done (a question, a statement
  that ends on a word that can end one);
- ``unfinished``: they cannot end there (a dangling comma or dash, a trailing
  article, conjunction or filler), *even when Whisper put a full stop or a
  question mark after them*: it punctuates whatever it is given, so the
  fragment "Could you find me a" comes back as "Could you find me A?";
- ``neutral``: it might be either, so the wait is long enough to ride out a
  thinking pause (the speaker in the middle of a number, a list, a
  subordinate clause, or ending on a preposition or a word like "that").

The rules are deliberately few and read only the last words (plus how the
sentence begins for a subordinate clause): a wrong "complete" costs a reply
that cuts the caller off, a wrong "neutral" costs a few hundred milliseconds.
"""

from __future__ import annotations

import re
from typing import Literal

TranscriptState = Literal["complete", "neutral", "unfinished"]

# Words a sentence cannot end on, whatever punctuation the STT added after them.
NEVER_LAST = frozenset(
    "a an the and or but nor because cause if um uh er erm hmm mm my your our their".split()
)
# Words a sentence can end on, though rarely without more after them (no punctuation
# after them: unfinished; with a full stop or question mark: neutral).
TRAILING_WORDS = NEVER_LAST | frozenset(
    "so then like to of with that which well also plus for from at in on into onto about "
    "by than as per via until till whether while when where who whose is are was were "
    "am be been his her its".split()
)
# Numbers a speaker may still be in the middle of ("five five five ...", "six ... forty").
NUMBER_WORDS = frozenset(
    "zero oh one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty "
    "seventy eighty ninety hundred thousand million point".split()
)
# A sentence opening with these is a subordinate clause until its main clause comes.
SUBORDINATE_OPENERS = frozenset(
    "if unless although though because whenever once since while when before after as".split()
)
SUBJECTS = frozenset("i you we they he she it my your our their the this that".split())
LIST_ENDINGS = frozenset("and or etc etcetera".split())
MAX_LIST_ITEM_WORDS = 3  # after a list's last comma: a short item means more may follow

_TERMINAL = re.compile(r"[.!?。？！]['\")\]]*$")
_DANGLING = re.compile(r"(\.\.\.|…|[,;:\-–—])$")
_WORD = re.compile(r"[\w']+")
_NUMBER = re.compile(r"^\d[\d:.,]*$")


def transcript_state(text: str) -> TranscriptState:
    """Whether a (partial) transcript reads as a finished sentence."""
    stripped = text.strip()
    words = [w.casefold() for w in _WORD.findall(stripped)]
    if not words:
        return "neutral"
    if _DANGLING.search(stripped) or words[-1] in NEVER_LAST:
        return "unfinished"
    if not _TERMINAL.search(stripped):
        return "unfinished" if words[-1] in TRAILING_WORDS else "neutral"
    if stripped.rstrip("'\")]").endswith("?"):
        return "complete" if _question_may_end(words) else "neutral"
    return "neutral" if _may_go_on(stripped, words) else "complete"


# Words a question may end on when a wh-word asks for what they lack ("Where are
# you from?", "Who is it for?"); a yes/no question ending on one ("Can you send the
# report to?") is a fragment Whisper punctuated.
QUESTION_ENDS = frozenset("for from to of with at in on about by is are was were be".split())
WH_WORDS = frozenset("what who whom whose which where when why how".split())


def _question_may_end(words: list[str]) -> bool:
    last = words[-1]
    if last not in TRAILING_WORDS:
        return True
    return last in QUESTION_ENDS and not WH_WORDS.isdisjoint(words)


def _may_go_on(sentence: str, words: list[str]) -> bool:
    """A statement that ends with a full stop but may be a pause: see the module's list."""
    last = words[-1]
    if last in TRAILING_WORDS or last in NUMBER_WORDS or _NUMBER.match(last):
        return True
    if "," in sentence:
        item = _WORD.findall(sentence.rsplit(",", 1)[1].casefold())
        if len(item) <= MAX_LIST_ITEM_WORDS and not LIST_ENDINGS.intersection(item):
            return True  # "eggs, milk, bread." - the list's "and ..." may be coming
    opener = words[0] in SUBORDINATE_OPENERS
    return opener and "," not in sentence and (len(words) < 2 or words[1] in SUBJECTS)
