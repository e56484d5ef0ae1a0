"""An LLM engine for any OpenAI-compatible ``/v1/chat/completions`` endpoint.

Ollama, the llama.cpp server, vLLM and OpenAI itself all speak this streaming
shape. Every way the endpoint can fail becomes an
:class:`~rtagents.engines.base.EngineFailure` whose hint tells the operator
what to fix, because the person reading the ``error`` event is usually not the
person who started the model server.

Cancellation: the response task iterates :meth:`OpenAICompatLLM.stream`;
cancelling it unwinds the ``async with`` around the HTTP response, which
closes the connection at once (an unfinished HTTP/1.1 response is never put
back in the pool), so the model server stops generating for us.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..base import ChatMessage, EngineFailure, LLMChunk, LLMRequest
from .openai_wire import (
    ChunkMapper,
    MalformedStream,
    SSEDecoder,
    StreamErrorEvent,
    error_message,
    request_body,
)

API_KEY_ENV = "RTAGENTS_LLM_API_KEY"
OPENAI_KEY_ENV = "OPENAI_API_KEY"
OPENAI_HOST = "api.openai.com"
_MAX_ERROR_BODY = 4096


def chat_completions_url(url: str) -> str:
    """Accept a server root, a ``/v1`` base or the full endpoint; return the endpoint."""
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return f"{url}/chat/completions"
    return f"{url}/v1/chat/completions"


def api_key_from_env(url: str) -> str | None:
    """``RTAGENTS_LLM_API_KEY``; ``OPENAI_API_KEY`` only for OpenAI's own host.

    Sending an OpenAI key to whatever --llm-url points at would leak it to a
    third party, so the fallback is limited to api.openai.com.
    """
    key = os.environ.get(API_KEY_ENV)
    if key:
        return key
    if urlsplit(url).hostname == OPENAI_HOST:
        return os.environ.get(OPENAI_KEY_ENV) or None
    return None


def url_problem(url: str) -> str:
    """Why ``url`` cannot reach a model server ("" if it can).

    httpx reports these as a connection that "broke", or (a port past 65535)
    as a bare ExceptionGroup; checked first, they become an EngineFailure
    that names the URL.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when out of range
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it is not an http:// or https:// URL with a host"
    return ""


class OpenAICompatLLM:
    """Streams chat completions from ``url`` with ``model``.

    ``first_token_timeout_s`` bounds the wait for the first event (prompt
    processing on a CPU can take seconds); ``token_timeout_s`` bounds every
    later gap. Keep-alive comments do not count as tokens. One instance may
    serve several event loops (tests, a sync app calling ``asyncio.run``):
    no idle connection is kept between requests, because a pooled socket
    belongs to the loop that opened it and fails ("Event loop is closed") or
    leaks once that loop has ended. A finished stream ends at ``[DONE]``
    before its body is drained, so it was never reusable anyway.
    :meth:`aclose` frees the client.
    """

    # The model behind the URL decides which tools to call (scenario rules
    # stand down unless forced; see rtagents.server.scenario).
    chooses_tools = True
    # input_image parts are sent as image_url parts; a model that cannot read
    # them answers with an HTTP error, which fails the response with its message.
    accepts_images = True

    def __init__(
        self,
        *,
        url: str,
        model: str,
        api_key: str | None = None,
        connect_timeout_s: float = 5.0,
        first_token_timeout_s: float = 30.0,
        token_timeout_s: float = 15.0,
        include_usage: bool = True,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = chat_completions_url(url)
        self.model = model
        self._api_key = api_key if api_key is not None else api_key_from_env(url)
        self._connect_timeout_s = connect_timeout_s
        self._first_token_timeout_s = first_token_timeout_s
        self._token_timeout_s = token_timeout_s
        self._include_usage = include_usage
        self._extra_body = dict(extra_body or {})
        self._client: httpx.AsyncClient | None = None
        self._url_problem = url_problem(self.url)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            # No read timeout here: the token timeouts below are finer (they
            # ignore keep-alive comments and exclude time the caller spends).
            timeout = httpx.Timeout(self._connect_timeout_s, read=None)
            # A proxy from the environment is for remote hosts; sending a loopback
            # model server's traffic through it is a classic "connection refused".
            local = urlsplit(self.url).hostname in ("127.0.0.1", "localhost", "::1")
            self._client = httpx.AsyncClient(
                timeout=timeout,
                trust_env=not local,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        if self._url_problem:
            raise EngineFailure(
                f"cannot use the LLM URL {self.url!r}: {self._url_problem}",
                hint="Pass --llm-url like http://127.0.0.1:11434 (Ollama) "
                "or https://api.openai.com/v1.",
            )
        body = request_body(
            request, model=self.model, include_usage=self._include_usage, extra=self._extra_body
        )
        try:
            async with self._http().stream(
                "POST", self.url, json=body, headers=self._headers()
            ) as response:
                if response.status_code != 200:
                    raise await self._http_failure(response)
                async for chunk in self._chunks(response):
                    yield chunk
        except httpx.TransportError as exc:
            raise self._transport_failure(exc) from None

    async def warm_up(self) -> None:
        """Ask for one token, so a dead URL, a bad key or an unknown model shows at startup.

        It goes through :meth:`stream`, so it fails exactly as a real turn
        would, and it makes Ollama load the model into memory now rather than
        during the first caller's turn (which can take seconds). Against a
        paid API it costs one token per server start.
        """
        probe = LLMRequest(
            instructions="", messages=[ChatMessage(role="user", content="Hi")], max_output_tokens=1
        )
        async for _ in self.stream(probe):
            pass

    def _transport_failure(self, exc: httpx.TransportError) -> EngineFailure:
        if isinstance(exc, httpx.ConnectTimeout):
            return EngineFailure(
                f"the LLM at {self.url} did not accept a connection "
                f"within {self._connect_timeout_s:g} s",
                hint="Check that the model server is up and reachable, or pass another --llm-url.",
                retryable=True,
            )
        if isinstance(exc, httpx.ConnectError):
            return EngineFailure(
                f"nothing listens at {self.url} ({exc})",
                hint="Start Ollama (`ollama serve`) or another OpenAI-compatible server, "
                "or pass --llm-url with the address of one.",
                retryable=True,
            )
        return EngineFailure(
            f"the connection to the LLM at {self.url} broke mid-reply ({exc!r})",
            hint="The model server closed the stream; check its log (out of memory? crash?).",
            retryable=True,
        )

    async def _chunks(self, response: httpx.Response) -> AsyncIterator[LLMChunk]:
        decoder, mapper = SSEDecoder(), ChunkMapper()
        lines = aiter(response.aiter_lines())
        loop = asyncio.get_running_loop()
        limit = budget = self._first_token_timeout_s
        while True:
            started = loop.time()
            try:
                async with asyncio.timeout(budget):
                    line = await anext(lines, None)
            except TimeoutError:
                raise EngineFailure(
                    f"the LLM at {self.url} sent no token for {limit:g} s",
                    hint="The model server is overloaded or stuck; use a smaller model, "
                    "a faster machine, or check the server's log.",
                    retryable=True,
                ) from None
            budget -= loop.time() - started
            events = decoder.flush() if line is None else decoder.feed(line)
            for data in events:
                if data.strip() == "[DONE]":
                    return
                limit = budget = self._token_timeout_s
                for chunk in self._map(mapper, data):
                    yield chunk
            if line is None:
                return  # the server ended the stream without [DONE]: accept what came

    def _map(self, mapper: ChunkMapper, data: str) -> list[LLMChunk]:
        try:
            return list(mapper.map(data))
        except MalformedStream as exc:
            raise EngineFailure(
                f"the LLM at {self.url} sent a malformed stream event: {exc}",
                hint="Is --llm-url an OpenAI-compatible chat-completions server? "
                "Ollama, llama.cpp's server, vLLM and OpenAI are.",
            ) from None
        except StreamErrorEvent as exc:
            raise EngineFailure(
                f"the LLM at {self.url} reported an error mid-stream: {exc}",
                hint="See the model server's log for the cause.",
                retryable=True,
            ) from None

    async def _http_failure(self, response: httpx.Response) -> EngineFailure:
        raw = b""
        async for part in response.aiter_bytes():
            raw += part
            if len(raw) >= _MAX_ERROR_BODY:
                break
        status, detail = response.status_code, error_message(raw)
        what = f"the LLM at {self.url} answered HTTP {status}: {detail}"
        if status in (401, 403):
            hint = (
                f"The API key was refused; set {API_KEY_ENV} "
                f"(or {OPENAI_KEY_ENV} for api.openai.com) to a valid key."
            )
        elif status == 404:
            hint = (
                f"Model {self.model!r} (or the endpoint) was not found. For Ollama pull it with "
                f"`ollama pull {self.model}`; otherwise pass --llm-model with a model the "
                "server lists at /v1/models, and check --llm-url."
            )
        elif status == 429 or status >= 500:
            hint = "The model server is overloaded or failing; retry later or check its log."
        else:
            hint = "The server rejected the request; see its message above."
        return EngineFailure(what, hint=hint, retryable=status == 429 or status >= 500)
