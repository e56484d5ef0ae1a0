"""Time to first token and generation speed of an LLM engine, as the server uses it.

By default it measures the embedded SmolLM2-135M (llama.cpp in-process):
start-up, a cold first turn, then follow-up turns of one growing conversation
(the prompt cache re-uses the processed history), each streamed through the
same :class:`~rtagents.engines.local.openai_compat.OpenAICompatLLM` path the
server takes. ``--llm-url``/``--llm-model`` measure an external server instead.

Run: ``.venv/bin/python bench/llm.py`` (``--turns 3 --tokens 32`` for a short run).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from rtagents.engines.base import LLM, ChatMessage, LLMRequest, TextDelta, Usage
from rtagents.engines.local.embedded_llm import EmbeddedLLM
from rtagents.engines.local.openai_compat import OpenAICompatLLM

INSTRUCTIONS = "You are a concise, friendly voice assistant. Answer in one short sentence."
QUESTIONS = [
    "What is the capital of France?",
    "And how many people live there?",
    "Name a famous museum in that city.",
    "What can I eat there for breakfast?",
    "How do I get there from London?",
    "Thanks! What's the weather usually like in spring?",
]


async def turn(llm: LLM, history: list[ChatMessage], tokens: int) -> dict[str, Any]:
    request = LLMRequest(instructions=INSTRUCTIONS, messages=history, max_output_tokens=tokens)
    started = time.perf_counter()
    first: float | None = None
    text, usage = "", None
    async for chunk in llm.stream(request):
        if isinstance(chunk, TextDelta):
            first = first if first is not None else time.perf_counter() - started
            text += chunk.text
        elif isinstance(chunk, Usage):
            usage = chunk
    total = time.perf_counter() - started
    generated = usage.output_tokens if usage else max(1, len(text) // 4)
    ttft = first if first is not None else total
    speed = (generated - 1) / (total - ttft) if total > ttft and generated > 1 else float("nan")
    return {"ttft": ttft, "total": total, "tokens": generated, "tok_s": speed, "text": text}


async def run(args: argparse.Namespace) -> None:
    llm: EmbeddedLLM | OpenAICompatLLM
    if args.llm_url:
        llm = OpenAICompatLLM(url=args.llm_url, model=args.llm_model)
        label = f"{args.llm_model} at {args.llm_url}"
    else:
        llm = EmbeddedLLM(threads=args.threads)
        label = "embedded smollm2-135m-instruct (Q4_1, llama.cpp)"
    started = time.perf_counter()
    await llm.warm_up()
    print(f"{label}: ready in {time.perf_counter() - started:.2f} s")
    history: list[ChatMessage] = []
    results = []
    try:
        for index, question in enumerate(QUESTIONS[: args.turns]):
            history.append(ChatMessage(role="user", content=question))
            result = await turn(llm, history, args.tokens)
            history.append(ChatMessage(role="assistant", content=result["text"]))
            results.append(result)
            kind = "cold" if index == 0 else "cached"
            print(
                f"turn {index + 1} ({kind}): TTFT {result['ttft'] * 1000:.0f} ms, "
                f"{result['tokens']} tokens in {result['total']:.2f} s "
                f"({result['tok_s']:.0f} tok/s) {result['text'][:60]!r}"
            )
    finally:
        await llm.aclose()
    later = results[1:] or results
    ttft_ms = statistics.median(r["ttft"] for r in later) * 1000
    speed = statistics.median(r["tok_s"] for r in later)
    print(f"median over follow-up turns: TTFT {ttft_ms:.0f} ms, generation {speed:.0f} tok/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=len(QUESTIONS))
    parser.add_argument("--tokens", type=int, default=48, help="max_output_tokens per turn")
    parser.add_argument("--threads", type=int, default=2, help="embedded llama.cpp threads")
    parser.add_argument("--llm-url", default=None)
    parser.add_argument("--llm-model", default="llama3.2")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
