"""One session's OpenTelemetry spans, built from what its host sends and receives.

The span tree (docs/debugging.md, "Metrics and traces")::

    rtagents.session
      rtagents.turn                 speech_started (or a commit) .. its response done
        vad                         speech_started .. speech_stopped
        stt                         committed .. transcription completed/failed
        chat {model}                response.created .. response.done (GenAI attributes)
          llm                       response.created .. the last text/arguments delta
          tts                       the first audio delta .. the last
          execute_tool {name}       arguments done .. the client's function_call_output
      chat {model}                  a response the client asked for (no turn)

Stage spans are timed where the host sees the pipeline's output (the engines
overlap: the LLM streams while TTS speaks), so they need no hook inside the
engines and read the same for any backend. Only a traced session (see
:class:`~.telemetry.Telemetry`) costs anything beyond a dict lookup per event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from ..protocol.errors import RealtimeError
from .telemetry import Telemetry

GEN_AI_SYSTEM = "rtagents"
_CONFIGURED = frozenset({"session.created", "session.updated"})
# Bounds on open spans a client can make the server hold (stray ids are never closed).
MAX_OPEN = 64


class SessionTracer:
    """Spans of one session; inert until the session is traced."""

    wants_received = True  # a tool call ends with the client's function_call_output

    def __init__(self, telemetry: Telemetry, session_id: str, now_ns: Callable[[], int]) -> None:
        self._telemetry = telemetry
        self._session_id = session_id
        self._now = now_ns
        self._started_ns = now_ns()
        self._tracer: Any = None
        self._session: Any = None
        self._model: str | None = None
        self._on = False
        self._transcribing = False  # an stt span only when a transcript will end it
        self._turn: Any = None
        self._stages: dict[tuple[str, str], Any] = {}  # (stage, item or response id) -> span
        self._responses: dict[str, Any] = {}
        self._tools: dict[str, Any] = {}  # call_id -> span
        self._last_delta: dict[tuple[str, str], int] = {}  # stage span -> its last delta (ns)
        self._handlers: dict[str, Callable[[Any], None]] = {
            "session.created": self._configured,
            "session.updated": self._configured,
            "input_audio_buffer.speech_started": self._speech_started,
            "input_audio_buffer.speech_stopped": self._speech_stopped,
            "input_audio_buffer.committed": self._committed,
            "conversation.item.input_audio_transcription.completed": self._transcribed,
            "conversation.item.input_audio_transcription.failed": self._transcribed,
            "response.created": self._response_created,
            "response.output_text.delta": self._text_delta,
            "response.output_audio_transcript.delta": self._text_delta,
            "response.function_call_arguments.delta": self._text_delta,
            "response.output_audio.delta": self._audio_delta,
            "response.function_call_arguments.done": self._tool_called,
            "response.done": self._response_done,
        }

    # --- the host's observer seam -----------------------------------------------------

    def on_sent(self, event: BaseModel, error: RealtimeError | None) -> None:
        kind: Any = getattr(event, "type", None)
        if not self._on:  # an untraced session: only its config can turn tracing on
            if kind in _CONFIGURED:
                self._configured(event)
            return
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(event)
        elif kind == "error" and error is not None:
            self._innermost().add_event(
                "error",
                {"error.category": str(error.category), "error.code": error.code or ""},
            )

    def on_received(self, inbound: Any) -> None:
        if not self._tools or inbound.type != "conversation.item.create":
            return
        item: Any = getattr(inbound.event, "item", None)
        if getattr(item, "type", None) == "function_call_output":
            span = self._tools.pop(str(item.call_id), None)
            if span is not None:
                span.end()

    def on_closed(self, code: int | None, reason: str | None, by: str) -> None:
        if self._session is None:
            return
        for span in [*self._tools.values(), *self._stages.values(), *self._responses.values()]:
            span.end()
        if self._turn is not None:
            self._turn.end()
        self._session.set_attribute("rtagents.session.closed_by", by)
        if code is not None:
            self._session.set_attribute("rtagents.session.close_code", code)
        self._session.end()
        self._session = None
        self._tools.clear()
        self._stages.clear()
        self._responses.clear()
        self._last_delta.clear()

    # --- session ---------------------------------------------------------------------

    def _configured(self, event: Any) -> None:
        session = event.session
        self._model = getattr(session, "model", None) or self._model
        audio_in = getattr(getattr(session, "audio", None), "input", None)
        self._transcribing = getattr(audio_in, "transcription", None) is not None
        tracing = getattr(session, "tracing", None)
        self._on = self._telemetry.wants(tracing)
        if self._on and self._session is None:
            self._tracer = self._telemetry.tracer()
            if self._tracer is None:
                self._on = False
                return
            attributes = {
                "gen_ai.system": GEN_AI_SYSTEM,
                "gen_ai.conversation.id": self._session_id,
                "rtagents.session.id": self._session_id,
            }
            if self._model:
                attributes["gen_ai.request.model"] = self._model
            workflow = getattr(tracing, "workflow_name", None)
            if workflow:
                attributes["rtagents.tracing.workflow_name"] = str(workflow)
            self._session = self._tracer.start_span(
                "rtagents.session", start_time=self._started_ns, attributes=attributes
            )

    def _child(self, parent: Any, name: str, attributes: dict[str, Any] | None = None) -> Any:
        from opentelemetry import trace

        return self._tracer.start_span(
            name,
            context=trace.set_span_in_context(parent),
            start_time=self._now(),
            attributes=attributes,
        )

    def _innermost(self) -> Any:
        if self._responses:
            return next(reversed(self._responses.values()))
        return self._turn or self._session

    # --- turns -----------------------------------------------------------------------

    def _open_turn(self, item_id: str) -> None:
        if self._turn is not None:
            self._turn.end()
        self._turn = self._child(self._session, "rtagents.turn", {"rtagents.item.id": item_id})

    def _speech_started(self, event: Any) -> None:
        self._open_turn(str(event.item_id))
        self._start_stage("vad", str(event.item_id), self._turn)

    def _speech_stopped(self, event: Any) -> None:
        self._end_stage("vad", str(event.item_id))

    def _committed(self, event: Any) -> None:
        item_id = str(event.item_id)
        if self._turn is None:
            self._open_turn(item_id)  # a commit without VAD starts its turn here
        if self._transcribing:
            self._start_stage("stt", item_id, self._turn)

    def _transcribed(self, event: Any) -> None:
        self._end_stage("stt", str(event.item_id))

    def _start_stage(self, stage: str, key: str, parent: Any) -> None:
        if (stage, key) in self._stages:
            return
        if len(self._stages) >= MAX_OPEN:  # one never ended (speech cleared mid-way): the oldest
            self._end_stage(*next(iter(self._stages)))
        self._stages[stage, key] = self._child(parent, stage)

    def _end_stage(self, stage: str, key: str, end_ns: int | None = None) -> None:
        span = self._stages.pop((stage, key), None)
        if span is not None:
            span.end(end_time=end_ns)

    # --- responses -------------------------------------------------------------------

    def _response_created(self, event: Any) -> None:
        response_id = str(event.response.id)
        if len(self._responses) >= MAX_OPEN:
            return
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": GEN_AI_SYSTEM,
            "gen_ai.response.id": response_id,
        }
        if self._model:
            attributes["gen_ai.request.model"] = self._model
        parent = self._turn or self._session
        span = self._child(parent, f"chat {self._model or 'realtime'}", attributes)
        self._responses[response_id] = span
        self._start_stage("llm", response_id, span)

    def _text_delta(self, event: Any) -> None:
        key = ("llm", str(event.response_id))
        if key in self._stages:
            # Generation ends at the last delta: remember it, end the span at response.done.
            self._last_delta[key] = self._now()

    def _audio_delta(self, event: Any) -> None:
        response_id = str(event.response_id)
        response = self._responses.get(response_id)
        key = ("tts", response_id)
        if key not in self._stages and response is not None:
            self._start_stage("tts", response_id, response)
        if key in self._stages:
            self._last_delta[key] = self._now()

    def _tool_called(self, event: Any) -> None:
        response = self._responses.get(str(event.response_id))
        if response is None or len(self._tools) >= MAX_OPEN:
            return
        name = str(event.name) if getattr(event, "name", None) else "function"
        call_id = str(event.call_id)
        self._tools[call_id] = self._child(
            response,
            f"execute_tool {name}",
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.tool.call.id": call_id,
                "gen_ai.tool.type": "function",
            },
        )

    def _response_done(self, event: Any) -> None:
        response = event.response
        response_id = str(response.id)
        for stage in ("llm", "tts"):
            self._end_stage(stage, response_id, self._last_delta.pop((stage, response_id), None))
        span = self._responses.pop(response_id, None)
        if span is None:
            return
        status = str(response.status)
        span.set_attribute("gen_ai.response.finish_reasons", [status])
        usage = getattr(response, "usage", None)
        if usage is not None:
            span.set_attribute("gen_ai.usage.input_tokens", int(usage.input_tokens or 0))
            span.set_attribute("gen_ai.usage.output_tokens", int(usage.output_tokens or 0))
        if status == "failed":
            span.set_status(_status("ERROR"))
        span.end()
        self._maybe_end_turn()

    def _maybe_end_turn(self) -> None:
        """A turn ends with its last response, unless a tool call is still out (the reply
        to its output belongs to the same turn)."""
        if self._turn is not None and not self._responses and not self._tools:
            self._turn.end()
            self._turn = None


def _status(code: str) -> Any:
    from opentelemetry.trace import Status, StatusCode

    return Status(StatusCode[code])
