"""What ``audio.input.transcription.keywords`` (and ``prompt``) do to Whisper base.

Sentences with rare names (people, places, products) are spoken by the
packaged Piper voice and transcribed by WhisperSTT (int8, short window, as the
server runs it) three ways: without hints; with the session's keyword list
(every name of the set, as an app would configure one list for a whole
session); and with that list plus a prompt. Sentences without any name are
transcribed the same ways, to see whether the list makes Whisper "hear" names
that were not said. Reported: word error rate, the share of names heard
exactly, and the median time per call.

Run: ``.venv/bin/python bench/transcription_keywords.py``
"""

from __future__ import annotations

import asyncio
import statistics
import time

from speech_clips import spoken, wer, words

from rtagents.engines.base import TranscriptionHints
from rtagents.engines.local.whisper_stt import WhisperSTT

NAMED = {
    "Please book a table for Siobhan Nakashima at Quetzalcoatl tonight.": [
        "Siobhan",
        "Nakashima",
        "Quetzalcoatl",
    ],
    "Forward the invoice to Aoife Kowalczyk in the Reykjavik office.": [
        "Aoife",
        "Kowalczyk",
        "Reykjavik",
    ],
    "Is Dr. Oyelaran available on Thursday?": ["Oyelaran"],
    "My order number mentions the Zephyrion blender.": ["Zephyrion"],
    "Call Niamh Przybylski about the Vexlora contract.": ["Niamh", "Przybylski", "Vexlora"],
    "We land in Ouagadougou before we drive to Tamanrasset.": ["Ouagadougou", "Tamanrasset"],
    "Ask Tadhg whether Xochitl has the Kyzylorda report.": ["Tadhg", "Xochitl", "Kyzylorda"],
    "The meeting with Saoirse Ngata moved to Wednesday.": ["Saoirse", "Ngata"],
    "Transfer fifty dollars to Gwenllian Ibekwe.": ["Gwenllian", "Ibekwe"],
    "Remind me to water the Thunbergia before Ravindra arrives.": ["Thunbergia", "Ravindra"],
}
PLAIN = [
    "What time does the pharmacy close today?",
    "Please turn the lights off in the kitchen.",
    "I would like to order a large pizza with mushrooms.",
    "Can you read me the weather for tomorrow morning?",
    "Set an alarm for seven thirty.",
]
KEYWORDS = tuple(dict.fromkeys(name for names in NAMED.values() for name in names))
PROMPT = "A voice assistant for bookings, payments and messages."
CONDITIONS = {
    "no hints": None,
    "keywords": TranscriptionHints(keywords=KEYWORDS),
    "keywords + prompt": TranscriptionHints(keywords=KEYWORDS, prompt=PROMPT),
}


def names_heard(heard: str, names: list[str]) -> int:
    said = words(heard)
    return sum(1 for name in names if words(name)[0] in said)


async def run() -> None:
    clips = await spoken([*NAMED, *PLAIN])
    stt = WhisperSTT()
    stt.load()
    await stt.transcribe(clips[PLAIN[0]], language="en")  # warm
    print(f"{len(NAMED)} sentences with {sum(map(len, NAMED.values()))} rare names, ", end="")
    print(f"{len(PLAIN)} without; {len(KEYWORDS)} keywords in the list\n")
    print("| condition | WER, named | names heard | WER, plain | median ms/call |")
    print("|---|---:|---:|---:|---:|")
    for label, hints in CONDITIONS.items():
        named, plain, times, hits = [], [], [], 0
        for text, clip in clips.items():
            start = time.perf_counter()
            heard = (await stt.transcribe(clip, language="en", hints=hints)).text
            times.append((time.perf_counter() - start) * 1000)
            if text in NAMED:
                named.append((text, heard))
                hits += names_heard(heard, NAMED[text])
            else:
                plain.append((text, heard))
                if hints is not None and set(words(heard)) & {w.lower() for w in KEYWORDS}:
                    print(f"  ({label}: a name heard in a sentence without names: {heard!r})")
        total = sum(map(len, NAMED.values()))
        print(
            f"| {label} | {wer(named):.1%} | {hits}/{total} ({hits / total:.0%}) "
            f"| {wer(plain):.1%} | {statistics.median(times):.0f} |"
        )
        for text, heard in named:
            if words(text) != words(heard):
                print(f"  {label}: {heard.strip()!r}")
    stt.close()


if __name__ == "__main__":
    asyncio.run(run())
