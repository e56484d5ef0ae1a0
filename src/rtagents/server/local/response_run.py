"""One response: from ``response.created`` to ``response.done``, driving the engines.

The run builds an :class:`LLMRequest` from the conversation (or the
response's own ``input``), streams the LLM's chunks into output items (see
:mod:`.response_output`), and always ends with ``response.done`` (status
``completed``, ``incomplete``, ``cancelled`` or ``failed``) then
``rate_limits.updated``. Cancelling cancels the engine task where it waits;
the closing events come after, so no delta can follow ``response.done``.
An engine failure fails the response, never the session.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import TYPE_CHECKING, Any, Literal, cast

from openai.types.realtime import RateLimitsUpdatedEvent, ResponseCreatedEvent, ResponseDoneEvent

from ...engines.base import EngineFailure, LLMRequest, TextDelta, ToolCallDelta, Usage
from ...engines.token_count import prompt_measurer
from ...protocol.errors import ModelError, Origin
from ...protocol.limit_refusals import conversation_full_refusal
from ...protocol.server_facts import Refuse
from .. import ids
from ..auth import API_KEY_OWNER
from ..host.wire_events import build
from ..mcp.turn import McpTurn, McpWriter
from .audio_out import AudioOut
from .images import IMAGES_NOT_SUPPORTED, ImagesNotSupported
from .prompt import build_prompt
from .rate_limits import RATE_LIMITED, Reservation, TokenBudgetExceeded
from .response_output import FunctionCallWriter, MessageWriter, close_stream
from .response_plan import ResponsePlan
from .truncation import CONTEXT_LENGTH_EXCEEDED, ContextOverflow
from .usage import TokenCounts, UsageTally

if TYPE_CHECKING:
    from .prepared_reply import PreparedReply
    from .session_context import SessionContext

log = logging.getLogger("rtagents.server.responses")
Status = Literal["completed", "cancelled", "failed", "incomplete"]


class ConversationFull(Exception):
    """The conversation holds limits.conversation_items: this response may add no item."""

    def __init__(self, refusal: Refuse) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class ResponseRun:
    """A response in flight; in its responder's registry until ``response.done``."""

    def __init__(
        self,
        ctx: SessionContext,
        plan: ResponsePlan,
        audio_out: AudioOut,
        registry: dict[str, ResponseRun],
        held: PreparedReply | None = None,
    ) -> None:
        self.id = ids.response_id()
        self.ctx = ctx
        self.plan = plan
        self.audio_out = audio_out
        self._registry = registry  # the responder's runs: this one is in it until done
        self._writers: list[MessageWriter | FunctionCallWriter | McpWriter] = []
        # Inert without MCP tools. It points back through a proxy: a run that held its
        # turn while the turn held the run would wait for a full collection to be freed.
        self._mcp = McpTurn(ctx.mcp, cast("ResponseRun", weakref.proxy(self)), plan.tools)
        self._tally = UsageTally()  # usage.py: tokenizer counts, audio at the hosted rates
        self._counts = TokenCounts()
        self._budget = ctx.state.token_budgets.for_key(API_KEY_OWNER)  # rate_limits.py
        self._reservation: Reservation | None = None
        self._output_tokens = 0
        self._cancel_reason: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._finishing = False  # past generation: a cancel no longer interrupts
        self.first_token_at: float | None = None  # perf_counter of the first LLM chunk (marks)
        # A reply prepared during the turn's end silence (speculation.py): used only if
        # this response's request is the one it answers.
        self.held = held

    def start(self) -> None:
        self._registry[self.id] = self
        self._task = self.ctx.spawn(self._run(), f"response-{self.id}")

    def interrupt(self, reason: str) -> None:
        """Stop generating now, without waiting: nothing more is emitted but the closing events.

        A barge-in calls this before announcing the speech, so no audio delta
        can come after ``speech_started``.
        """
        task = self._task
        if task is None or task.done() or self._cancel_reason is not None:
            return  # over, or already being cancelled (a second cancel would skip the end)
        self._cancel_reason = reason
        if self._started and not self._finishing:
            task.cancel()  # lands where the engines are awaited
        # Not started yet: the run sees the reason and ends as cancelled.
        # Already finishing: nothing is generated any more; let it end.

    async def cancel(self, reason: str) -> None:
        """Stop generating and wait for ``response.done`` (status ``cancelled``)."""
        self.interrupt(reason)
        task = self._task
        if task is not None and not task.done():
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        self._started = True
        try:
            await self._run_to_done()
        finally:
            self._registry.pop(self.id, None)
            if self.held is not None:
                self.held.discard()
            self._let_go()

    def _let_go(self) -> None:
        """Break the run's cycles once it is over, so dropping it frees it at once: its
        writers point back at it, and a task that ended in an exception keeps that
        exception, whose traceback holds this run's frames."""
        self._writers = []
        self._task = None

    async def _run_to_done(self) -> None:
        status: Status = "completed"
        details: dict[str, Any] | None = None
        try:
            await self.ctx.emit(build(ResponseCreatedEvent, response=self._resource("in_progress")))
            if self._cancel_reason is not None:
                raise asyncio.CancelledError  # cancelled before it began
            if await self._produce():
                status, details = (
                    "incomplete",
                    {"type": "incomplete", "reason": "max_output_tokens"},
                )
            await self._speak_the_rest()
        except asyncio.CancelledError:
            if self._cancel_reason is None:
                raise  # the session is ending: no more events
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            status, details = "cancelled", {"type": "cancelled", "reason": self._cancel_reason}
        except Exception as exc:
            self._finishing = True
            status, details = "failed", await self._report_failure(exc)
        self._finishing = True
        await self._finish(status, details)

    async def _speak_the_rest(self) -> None:
        """Synthesise text still waiting for a clause end (part of generating)."""
        for writer in self._writers:
            if not writer.closed:
                await writer.flush()

    async def _produce(self) -> bool:
        """The model's reply as output items; True if cut by max_output_tokens.

        With MCP tools: approved calls run first, and after a round in which
        the model called MCP tools it gets another round (server/mcp/turn.py).
        """
        await self._mcp.prepare()
        for approved in self._mcp.approved_calls(len(self._writers)):
            await (await self._open(approved)).close("completed")
        while True:
            if await self._stream_model():
                return True
            if not await self._mcp.end_round(self._writers[-1] if self._writers else None):
                return False

    async def _stream_model(self) -> bool:
        """One pass of the model into output items; True if cut by max_output_tokens."""
        request = await self._request()
        held = await self.held.claim(request) if self.held is not None else None
        stream = held or self.ctx.state.engines.llm.stream(request)
        limit = self.plan.max_output_tokens
        try:
            async for chunk in stream:
                if isinstance(chunk, Usage):
                    self._tally.engine_report(chunk)
                    continue
                self._tally.generated(
                    chunk.text if isinstance(chunk, TextDelta) else chunk.arguments_delta
                )
                if self.first_token_at is None:
                    self.first_token_at = time.perf_counter()
                await self._write(chunk)
                self._output_tokens += 1
                if limit is not None and self._output_tokens >= limit:
                    return True
        finally:
            await close_stream(stream)
        return False

    async def _write(self, chunk: TextDelta | ToolCallDelta) -> None:
        writer = self._writers[-1] if self._writers and not self._writers[-1].closed else None
        if isinstance(chunk, TextDelta):
            if not isinstance(writer, MessageWriter):
                writer = await self._open(MessageWriter(self, len(self._writers)))
            await writer.add(chunk.text)
            return
        if writer is None or getattr(writer, "engine_call_id", None) != chunk.call_id:
            index = len(self._writers)
            call: FunctionCallWriter | McpWriter
            if self._mcp.owns(chunk.name):
                call = self._mcp.writer_for(index, chunk.name, chunk.call_id)
            else:
                call = FunctionCallWriter(self, index, chunk.call_id, chunk.name)
            writer = await self._open(call)
        await writer.add(chunk.arguments_delta)

    async def _open(self, writer: MessageWriter | FunctionCallWriter | McpWriter) -> Any:
        limit = self.ctx.state.config.limits.conversation_items
        if self.plan.conversation == "auto" and len(self.ctx.conversation) >= limit:
            raise ConversationFull(conversation_full_refusal(limit, None))
        current = self._writers[-1] if self._writers else None
        if current is not None and not current.closed:
            await current.flush()
            await current.close("completed")
        self._writers.append(writer)
        await writer.open()
        return writer

    async def _request(self) -> LLMRequest:
        """The history fitted to the model (prompt.py); the first round reserves tokens."""
        window = self.ctx.history_window
        prompt = await build_prompt(self.ctx, self.plan, window, self._mcp.tool_specs())
        if self._budget is not None and self._reservation is None:
            wanted = prompt.text_tokens + prompt.audio_tokens + (self.plan.max_output_tokens or 0)
            self._reservation = self._budget.reserve(wanted)  # refused: nothing was sent
        self._tally.start_round(prompt.text_tokens, prompt.audio_tokens)
        return prompt.request

    async def _report_failure(self, exc: Exception) -> dict[str, Any]:
        refused = _REFUSED.get(type(exc))
        if refused is not None:  # the request, not the server: invalid_request_error
            message = str(exc)
            await self.ctx.reply_error(ModelError(message, origin=Origin.REMOTE, code=refused))
            failure = {"type": "invalid_request_error", "code": refused, "message": message}
            return {"type": "failed", "error": failure}
        if isinstance(exc, ConversationFull):
            refusal = exc.refusal
            await self.ctx.reply_error(refusal.to_error())
            failure = {"type": "invalid_request_error", "code": refusal.code}
            return {"type": "failed", "error": {**failure, "message": refusal.message}}
        if isinstance(exc, EngineFailure):
            hint = f" {exc.hint}" if exc.hint else ""
            message = f"The model engine failed: {exc}.{hint}"
            code = "engine_failure"
        else:
            log.exception("response %s failed", self.id)
            message = f"The server failed while generating the response: {exc!r}."
            code = "internal_error"
        error = ModelError(message, origin=Origin.REMOTE, code=code)
        await self.ctx.reply_error(error, error_type="server_error")
        return {
            "type": "failed",
            "error": {"type": "server_error", "code": code, "message": message},
        }

    async def _finish(self, status: Status, details: dict[str, Any] | None) -> None:
        for writer in self._writers:
            if not writer.closed:
                await writer.close("completed" if status == "completed" else "incomplete")
        audio_ms = sum(w.audio_ms for w in self._writers if isinstance(w, MessageWriter))
        measurer = prompt_measurer(self.ctx.state.engines.llm)
        self._counts = await self._tally.counts(measurer, audio_ms)
        if self._budget is not None and self._reservation is not None:
            self._budget.settle(self._reservation, self._counts.total_tokens)
        response = self._resource(status, details)
        await self.ctx.emit(build(ResponseDoneEvent, response=response))
        limits = self._budget.to_wire() if self._budget is not None else []
        await self.ctx.emit(build(RateLimitsUpdatedEvent, rate_limits=limits))

    def _resource(self, status: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
        plan = self.plan
        final = status != "in_progress"
        return {
            "id": self.id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "output": [w.item(w.status) for w in self._writers] if final else [],
            "conversation_id": self.ctx.conversation_id if plan.conversation == "auto" else None,
            "output_modalities": ["audio" if plan.audio else "text"],
            "max_output_tokens": plan.max_output_tokens or "inf",
            "audio": {"output": {"format": plan.output_format.to_wire(), "voice": plan.voice}},
            "usage": self._usage_dict() if final else None,
            "metadata": plan.metadata,
        }

    def _usage_dict(self) -> dict[str, Any]:
        """Counted by the model's tokenizer, audio at the hosted rates (usage.py)."""
        return self._counts.to_wire()


# Failures of the request rather than of the server, by their code.
_REFUSED: dict[type[Exception], str] = {
    ContextOverflow: CONTEXT_LENGTH_EXCEEDED,
    ImagesNotSupported: IMAGES_NOT_SUPPORTED,
    TokenBudgetExceeded: RATE_LIMITED,
}
