"""Reading the known start of a prompt into llama.cpp's cache while the user still speaks.

With the prompt cache on, a llama.cpp slot keeps the tokens of the last prompt
it read and reuses the longest common prefix for the next request. A voice
turn's request is the conversation so far, the user turn's opening marker, the
user's words and the template's generation prompt. All of it but the last
words and the generation prompt is known before the turn ends: the history at
speech start, and the stable words of each partial transcript. Reading that
part early takes it off the path to the reply's first token, where the
embedded model reads about 8 ms a token on the 2-vCPU AMD bench machine
(docs/benchmarks.md, "Reading the prompt ahead").

The prefix is cut from llama.cpp's own rendering of the chat template
(``/apply-template``) at a marker put where the rest of the words will go, so it
is what the real request will start with, token for token (the tokenizer splits
words at their leading space, so a cut after a whole word is a token boundary).
It is sent as a ``/completion`` with ``n_predict: 0``: read, cached, not answered.
Best effort: any failure is logged at debug level and the turn goes on as before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

from ..base import EngineFailure
from .llama_tokens import LlamaTokenCounter

log = logging.getLogger("rtagents.engines.embedded_llm")

CUT: Final = "\u2063rtagents-prefill-cut\u2063"  # in no transcript; the template copies it


class PromptPrefill:
    """Sends known prompt prefixes through the server the ``counter`` talks to."""

    def __init__(self, counter: LlamaTokenCounter) -> None:
        self._server = counter  # its HTTP client, its chat template rendering
        self.running = False  # one at a time: a second would only queue behind the first

    async def read(self, messages: Sequence[dict[str, Any]], words: str) -> bool:
        """Read ``messages`` (the conversation so far, chat-completions shaped), then a
        user turn's opening and ``words`` (what the user has said so far, maybe nothing);
        True if it was read, False if one is running already or it failed."""
        if self.running:
            return False
        self.running = True
        try:
            turn = {"role": "user", "content": words + CUT}
            rendered = await self._server.rendered([*messages, turn])
            cut = rendered.find(CUT)
            if cut <= 0:
                return False  # a template that drops or rewrites the text: nothing to cut
            body = {"prompt": rendered[:cut], "n_predict": 0, "cache_prompt": True}
            await self._server.post("/completion", body)
            return True
        except EngineFailure as exc:
            log.debug("prompt prefill failed: %s", exc)
            return False
        finally:
            self.running = False
