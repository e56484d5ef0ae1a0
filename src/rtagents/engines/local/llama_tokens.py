"""Counting prompts with the embedded model's own tokenizer and chat template.

llama.cpp's server (the one :mod:`.embedded_llm` runs in-process) exposes
``/tokenize`` and ``/apply-template``, which use the GGUF's vocabulary and
its Jinja chat template: the same code that reads the prompt when the model
answers. A message costs its content's tokens plus the template's wrapping
around it (``<|im_start|>user\\n`` … ``<|im_end|>\\n`` for SmolLM2), measured
once from the template itself; the fixed part is the system turn (or the
template's default one when there are no instructions) and the generation
prompt, measured per distinct instructions. Counts are cached by text (bounded),
so a turn only tokenizes what is new: a 300-turn history costs two HTTP round
trips on loopback (~1.5 ms each) per turn, not six hundred.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import httpx

from ..base import ChatMessage, EngineFailure, ToolSpec
from ..token_count import PromptSize

CACHE_ENTRIES = 8192  # distinct texts remembered (a long session's messages, a few KB each)
_PROBE = "x"


class LlamaTokenCounter:
    """Counts through one llama.cpp server's tokenizer (``url``, bearer ``key``)."""

    def __init__(self, url: str, key: str, context_tokens: int) -> None:
        self._url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {key}"}
        self.context_tokens = context_tokens
        # No pooled connection: the engine may serve several event loops (see
        # openai_compat), and a socket belongs to the loop that opened it.
        self._http = httpx.AsyncClient(
            timeout=30.0, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
        )
        self._texts: OrderedDict[str, int] = OrderedDict()
        self._wraps: dict[str, int] = {}  # template tokens around one turn's content, by role
        self._fixed: OrderedDict[str, int] = OrderedDict()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def count_text(self, text: str) -> int:
        """Tokens of ``text`` alone (no special tokens added)."""
        if not text:
            return 0
        cached = self._texts.get(text)
        if cached is not None:
            self._texts.move_to_end(text)
            return cached
        body = await self.post("/tokenize", {"content": text, "add_special": False})
        count = len(body.get("tokens") or [])
        _remember(self._texts, text, count)
        return count

    async def measure(
        self, instructions: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> PromptSize:
        """The prompt as SmolLM2 reads it (tools are never sent to it, see embedded_llm)."""
        sizes = []
        for message in messages:
            role = "user" if message.role == "tool" else message.role  # as embedded_llm sends it
            sizes.append(await self._message_wrap(role) + await self.count_text(_rendered(message)))
        return PromptSize(await self._fixed_part(instructions), tuple(sizes))

    async def _message_wrap(self, role: str) -> int:
        """Template tokens one ``role`` turn adds around its content.

        Measured with a user turn after it: a trailing assistant turn is a
        prefill to llama.cpp (no end marker, no generation prompt).
        """
        wrap = self._wraps.get(role)
        if wrap is None:
            system = {"role": "system", "content": _PROBE}
            user = {"role": "user", "content": _PROBE}
            both = await self._template_tokens([system, {"role": role, "content": _PROBE}, user])
            alone = await self._template_tokens([system, user])
            wrap = self._wraps[role] = max(0, both - alone - await self.count_text(_PROBE))
        return wrap

    async def _fixed_part(self, instructions: str) -> int:
        """The prompt without messages: system turn (or the default one) and generation prompt."""
        cached = self._fixed.get(instructions)
        if cached is not None:
            return cached
        wrap = await self._message_wrap("user")
        turns: list[dict[str, str]] = []
        if instructions:
            turns.append({"role": "system", "content": instructions})
        turns.append({"role": "user", "content": _PROBE})
        total = await self._template_tokens(turns)
        fixed = max(0, total - wrap - await self.count_text(_PROBE))
        _remember(self._fixed, instructions, fixed, limit=64)
        return fixed

    async def rendered(self, messages: list[dict[str, Any]]) -> str:
        """``messages`` as the model reads them: llama.cpp's own chat template applied."""
        answer = await self.post("/apply-template", {"messages": messages})
        prompt = answer.get("prompt")
        if not isinstance(prompt, str):
            raise EngineFailure("llama.cpp's /apply-template returned no prompt")
        return prompt

    async def _template_tokens(self, turns: list[dict[str, Any]]) -> int:
        prompt = await self.rendered(turns)
        body = await self.post(
            "/tokenize", {"content": prompt, "add_special": True, "parse_special": True}
        )
        return len(body.get("tokens") or [])

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to the server's ``path``; its JSON object, or :class:`EngineFailure`."""
        try:
            response = await self._http.post(self._url + path, json=body, headers=self._headers)
            response.raise_for_status()
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise EngineFailure(
                f"the embedded model's server did not answer {path} ({exc!r})",
                hint="restart the server; if it persists, run `rtagents setup --check`",
            ) from None
        if not isinstance(answer, dict):
            raise EngineFailure(f"llama.cpp's {path} answered {type(answer).__name__}, not JSON")
        return answer


def _rendered(message: ChatMessage) -> str:
    """The text the template puts between a turn's markers (tool turns as embedded_llm sends)."""
    text = message.content
    if message.tool_calls:
        calls = "; ".join(f"{c.name}({c.arguments})" for c in message.tool_calls)
        text = f"{text} (called {calls})".strip()
    if message.role == "tool":
        text = f"(tool result) {text}"
    return text


def _remember(
    cache: OrderedDict[str, int], key: str, value: int, *, limit: int = CACHE_ENTRIES
) -> None:
    cache[key] = value
    while len(cache) > limit:
        cache.popitem(last=False)
