"""Letting the LLM read a voice turn's prompt while the user is still speaking.

An LLM engine that can (one with ``prefill``: the embedded llama.cpp's, see
``engines/local/llama_prefill.py``) is handed the conversation the turn's
response will send and the user's words heard so far: none at speech start
(the history and the user turn's opening), then the stable words of each
partial transcript. When the turn ends, only the rest of the prompt is read
before the first token.

It only warms the engine's cache: nothing reaches the wire or the conversation,
and the response builds its own request as always. Best effort and bounded: at
most one prefill per session at a time, none while a response runs, and the
engine itself skips it while it is answering anything else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, ClassVar

from ...engines.base import LLMRequest
from .speculation import PlanSource, predictable_plan, predicted_request

if TYPE_CHECKING:
    from .response_plan import ResponsePlan
    from .session_context import SessionContext

log = logging.getLogger("rtagents.server.speculation")

Prefill = Callable[[LLMRequest, str], Awaitable[bool]]


class PromptWarmer:
    """One session's prefills of the coming turn's prompt."""

    enabled: ClassVar[bool] = True  # benches switch it off for the before/after comparison

    def __init__(self, ctx: SessionContext, responder: PlanSource) -> None:
        self._ctx = ctx
        self._responder = responder
        self._task: asyncio.Task[None] | None = None

    def warm(self, item_id: str | None, words: str) -> None:
        """The user is speaking turn ``item_id`` and has said ``words`` so far (stable ones)."""
        ctx = self._ctx
        prefill: Prefill | None = getattr(ctx.state.engines.llm, "prefill", None)
        if not self.enabled or prefill is None or item_id is None:
            return
        if self._task is not None and not self._task.done():
            return  # the newer words wait for the next partial transcript
        plan = predictable_plan(ctx, self._responder)
        if plan is not None:
            self._task = ctx.spawn(self._read(prefill, plan, item_id, words.strip()), "prefill")

    async def _read(self, prefill: Prefill, plan: ResponsePlan, item_id: str, words: str) -> None:
        try:
            request = await predicted_request(self._ctx, plan, item_id, None)
            await prefill(request, words)
        except Exception as exc:  # only a cache was to be warmed: the turn goes on as before
            log.debug("prompt prefill for %s skipped: %r", item_id, exc)
