"""The engine seam: what the session host asks of VAD, STT, LLM and TTS.

Engines never see protocol events. The server's session host translates the
conversation into an :class:`LLMRequest`, turns :class:`LLMChunk`\\ s into
``response.*`` events and audio, and cancels an engine by cancelling the
asyncio task that iterates it (every streaming method is an async iterator, so
cancellation lands at the next ``await``).

Audio crossing this seam is always mono pcm16 little-endian ``bytes`` at the
rate the engine declares; the session host resamples and encodes G.711.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, TypeAlias, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    """A function call the model made earlier in the conversation."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage:
    """One turn of history, already flattened to text (audio turns as transcripts)."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # set on role="tool": the call this answers
    # input_image parts of a user turn, as URLs (data: URLs for inline images);
    # only engines whose ``accepts_images`` is true are sent any.
    images: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolSpec:
    """A function tool offered to the model (JSON-schema parameters)."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)


ToolChoice: TypeAlias = Literal["auto", "none", "required"] | str  # str = a function name


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMRequest:
    instructions: str
    messages: Sequence[ChatMessage]
    tools: Sequence[ToolSpec] = ()
    tool_choice: ToolChoice = "auto"
    max_output_tokens: int | None = None  # None = "inf"
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallDelta:
    """Part of a function call's arguments; ``name`` is known from the first delta."""

    call_id: str
    name: str
    arguments_delta: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0  # of input_tokens, read from the model server's prompt cache


LLMChunk: TypeAlias = TextDelta | ToolCallDelta | Usage


@runtime_checkable
class LLM(Protocol):
    """Streams a reply. Raising :class:`EngineFailure` ends the response as failed."""

    def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]: ...


@runtime_checkable
class TTS(Protocol):
    """Speaks text as pcm16 at ``sample_rate``, streaming chunks as they are ready."""

    @property
    def sample_rate(self) -> int: ...

    def synthesize(self, text: str, *, voice: str, speed: float = 1.0) -> AsyncIterator[bytes]: ...


GA_VOICES: tuple[str, ...] = (
    *("alloy", "ash", "ballad", "coral", "echo"),
    *("sage", "shimmer", "verse", "marin", "cedar"),
)
"""The hosted API's built-in voice names (``audio.output.voice``)."""


@runtime_checkable
class VoiceCatalog(Protocol):
    """A TTS that says which voices it speaks, so a session can be refused others early.

    Without it the server cannot know, and an unspeakable voice fails only at
    synthesis (the response fails, with the engine's hint).
    """

    @property
    def voices(self) -> Sequence[str] | None: ...  # None: it cannot say (a wrapper)


def speakable_voices(tts: object) -> tuple[str, ...] | None:
    """The voices ``tts`` can speak, or None when it does not say."""
    voices = tts.voices if isinstance(tts, VoiceCatalog) else None
    return tuple(voices) if voices is not None else None


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptionHints:
    """How a session asks the STT engine to listen (``audio.input.transcription``).

    ``prompt`` is text the speech is likely to continue or resemble,
    ``keywords`` words or names it may contain (both bias the decoder),
    ``languages`` the candidates when no single language is given, and
    ``logprobs`` asks for each token's log probability.
    """

    prompt: str = ""
    keywords: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    logprobs: bool = False

    def __bool__(self) -> bool:
        return bool(self.prompt or self.keywords or self.languages or self.logprobs)


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One decoded token, its raw bytes and the log probability the decoder gave it."""

    token: str
    bytes: bytes
    logprob: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcription:
    """What an STT engine heard in one utterance (the agents' ``Transcript`` is an event).

    ``logprobs`` is set when the hints asked for it and the engine can say.
    """

    text: str
    language: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None


@runtime_checkable
class STT(Protocol):
    """Transcribes one committed utterance (pcm16 at ``sample_rate``).

    ``hints`` is passed only when a session set any (an engine written before
    hints existed keeps working for sessions that do not use them).
    """

    @property
    def sample_rate(self) -> int: ...

    async def transcribe(
        self, pcm16: bytes, *, language: str | None = None, hints: TranscriptionHints | None = None
    ) -> Transcription: ...


class SpeechProbability(NamedTuple):
    """VAD verdict for one window of audio.

    A named tuple: a VAD makes one per 10-32 ms window of every session's
    input, and a tuple is built about three times faster than a frozen
    dataclass.
    """

    start_ms: float
    end_ms: float
    probability: float
    # Where the window's sound ends, when the VAD measures it: the end of its last
    # sub-frame loud enough to be speech (``start_ms``: none is). A model's verdict
    # trails the end of speech (its windows are coarse, its state decays), so turn
    # detection counts silence from here. None: the whole window counts as sound.
    loud_until_ms: float | None = None


@runtime_checkable
class VAD(Protocol):
    """Scores windows of pcm16 at ``sample_rate``; the session host applies thresholds."""

    @property
    def sample_rate(self) -> int: ...

    def score(self, pcm16: bytes) -> Sequence[SpeechProbability]: ...

    def reset(self) -> None: ...


@runtime_checkable
class Warmable(Protocol):
    """An engine whose first use is slow (a model to load) and can be done ahead.

    ``warm_up`` does the slow part off the event loop (a worker thread) and
    raises :class:`EngineFailure` with a hint when the engine cannot work, so
    a server can report readiness before the first user waits for a model.
    Engines without it are ready at once.
    """

    async def warm_up(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Engines:
    """The set of engines one server uses; STT/VAD may be absent (text-only).

    ``labels`` say what each part is (``{"stt": "whisper base (int8)"}``) for
    warm-up progress and ``/healthz``; a part without one is named by its class.
    """

    llm: LLM
    tts: TTS
    stt: STT | None = None
    vad: VAD | None = None
    name: str = "custom"
    labels: Mapping[str, str] = field(default_factory=dict)


class EngineFailure(Exception):
    """An engine could not do its job; ``hint`` says what the operator should fix.

    The session host turns it into an ``error`` event / ``response.done``
    ``failed`` with category ``model``; the session stays open.
    """

    def __init__(self, message: str, *, hint: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.hint = hint
        self.retryable = retryable


async def close_stream(stream: AsyncIterator[Any]) -> None:
    """Close an engine stream now if it can be closed (async generators can).

    A wrapper that re-yields another engine's stream must close the inner one
    when it is closed itself; left to the garbage collector, the inner one
    would keep its HTTP request or worker running for a while.
    """
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
