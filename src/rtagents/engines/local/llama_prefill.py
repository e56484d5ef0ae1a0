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

import httpx

log = logging.getLogger("rtagents.engines.embedded_llm")

CUT: Final = "\u2063rtagents-prefill-cut\u2063"  # in no transcript; the template copies it
TIMEOUT_S: Final = 10.0


class PromptPrefill:
    """Sends known prompt prefixes to one llama.cpp server (``url``, bearer ``key``)."""

    def __init__(self, url: str, key: str) -> None:
        self._url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {key}"}
        # No pooled connection: the engine may serve several event loops (see openai_compat).
        self._http = httpx.AsyncClient(
            timeout=TIMEOUT_S, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
        )
        self.running = False  # one at a time: a second would only queue behind the first

    async def aclose(self) -> None:
        await self._http.aclose()

    async def read(self, messages: Sequence[dict[str, Any]], words: str) -> bool:
        """Read ``messages`` (the conversation so far, chat-completions shaped), then a
        user turn's opening and ``words`` (what the user has said so far, maybe nothing);
        True if it was read, False if one is running already or it failed."""
        if self.running:
            return False
        self.running = True
        try:
            prefix = await self._prefix([*messages, {"role": "user", "content": words + CUT}])
            if prefix is None:
                return False
            body = {"prompt": prefix, "n_predict": 0, "cache_prompt": True}
            await self._post("/completion", body)
            return True
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("prompt prefill failed: %r", exc)
            return False
        finally:
            self.running = False

    async def _prefix(self, messages: list[dict[str, Any]]) -> str | None:
        rendered = (await self._post("/apply-template", {"messages": messages})).get("prompt")
        if not isinstance(rendered, str) or (cut := rendered.find(CUT)) <= 0:
            return None  # a template that drops or rewrites the text: nothing to cut
        return rendered[:cut]

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._http.post(self._url + path, json=body, headers=self._headers)
        response.raise_for_status()
        answer = response.json()
        if not isinstance(answer, dict):
            raise ValueError(f"llama.cpp's {path} answered {type(answer).__name__}")
        return answer
