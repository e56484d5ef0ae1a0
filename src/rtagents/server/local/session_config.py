"""The effective session config: defaults, ``session.update`` merging, checks.

The config is kept as the wire JSON of a GA session (every field explicit, so
``session.created``/``session.updated`` show the *full* effective config as the
hosted API does) and re-validated with the ``openai`` models after each merge.
Beyond the schema, a few rules only a server can know are checked here:
``model`` and the session ``type`` never change, ``voice`` freezes once audio
was produced, turn detection needs a VAD engine, and tools must be usable.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, TypeAlias, Union

from openai.types.realtime import (
    RealtimeSessionCreateRequest,
    RealtimeTranscriptionSessionCreateRequest,
)
from pydantic import Field, TypeAdapter, ValidationError

from ...protocol.audio import PCM16_24K, AudioFormat
from ...protocol.errors import RemoteProtocolError
from ...protocol.paths import describe_validation_error, first_error
from ...protocol.server_rules import Facts, session_size_refusal
from ..host.limits import Limits
from .session_rules import check_semantics, check_voice
from .turn_detection import TurnSettings

SessionModel: TypeAlias = RealtimeSessionCreateRequest | RealtimeTranscriptionSessionCreateRequest
Kind = Literal["realtime", "transcription"]

DEFAULT_INSTRUCTIONS = (
    "You are a helpful, friendly voice assistant. Keep answers short and speak naturally."
)
DEFAULT_VOICE = "alloy"
OBJECT_NAMES: Mapping[Kind, str] = {
    "realtime": "realtime.session",
    "transcription": "realtime.transcription_session",
}
# Dicts merged key by key on session.update; anything else is replaced whole
# (an audio format or a turn_detection object is one value, not a patch).
_MERGED_PATHS = frozenset(
    {(), ("audio",), ("audio", "input"), ("audio", "output"), ("audio", "input", "noise_reduction")}
)


@cache
def session_adapter() -> TypeAdapter[SessionModel]:
    """Validates a GA session object, realtime or transcription, by its ``type``."""
    union = Annotated[
        Union[RealtimeSessionCreateRequest, RealtimeTranscriptionSessionCreateRequest],  # noqa: UP007
        Field(discriminator="type"),
    ]
    adapter: TypeAdapter[SessionModel] = TypeAdapter(union)
    return adapter


def default_config(kind: Kind, model: str, *, vad_available: bool = True) -> dict[str, Any]:
    """What a session starts with before any secret or ``session.update``.

    A realtime session listens for turns (``server_vad`` with the hosted
    defaults), as the hosted API's does, so a caller who just talks gets an
    answer; a server without a VAD engine starts it with ``null`` (push-to-talk)
    instead of refusing every session. A transcription session starts ``null``.
    """
    audio_input: dict[str, Any] = {
        "format": PCM16_24K.to_wire(),
        "transcription": None,
        "noise_reduction": None,
        "turn_detection": None,
    }
    if kind == "realtime" and vad_available:
        audio_input["turn_detection"] = default_turn_detection()
    if kind == "transcription":
        audio_input["transcription"] = {"model": "whisper-1"}
        return {"type": "transcription", "audio": {"input": audio_input}, "include": None}
    return {
        "type": "realtime",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "audio": {
            "input": audio_input,
            "output": {"format": PCM16_24K.to_wire(), "voice": DEFAULT_VOICE, "speed": 1.0},
        },
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
    }


def default_turn_detection() -> dict[str, Any]:
    """The hosted API's default for a realtime session, every field explicit."""
    settings = TurnSettings.from_wire({"type": "server_vad"})
    assert settings is not None
    return settings.to_wire()


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """One immutable snapshot of a session's effective config (wire JSON)."""

    data: Mapping[str, Any]

    @classmethod
    def initial(cls, kind: Kind, model: str, *, vad_available: bool = True) -> SessionConfig:
        return cls(default_config(kind, model, vad_available=vad_available))

    @property
    def kind(self) -> Kind:
        return "transcription" if self.data["type"] == "transcription" else "realtime"

    @property
    def model(self) -> str | None:
        value = self.data.get("model")
        return value if isinstance(value, str) else None

    @property
    def output_modalities(self) -> list[str]:
        return list(self.data.get("output_modalities") or ["audio"])

    @property
    def instructions(self) -> str:
        return str(self.data.get("instructions") or "")

    @property
    def voice(self) -> str:
        return str(self._audio("output").get("voice") or DEFAULT_VOICE)

    @property
    def speed(self) -> float:
        return float(self._audio("output").get("speed") or 1.0)

    @property
    def input_format(self) -> AudioFormat:
        return AudioFormat.from_wire(self._audio("input").get("format"))

    @property
    def output_format(self) -> AudioFormat:
        return AudioFormat.from_wire(self._audio("output").get("format"))

    @property
    def transcription(self) -> Mapping[str, Any] | None:
        value = self._audio("input").get("transcription")
        return value if isinstance(value, Mapping) else None

    @property
    def noise_reduction(self) -> Mapping[str, Any] | None:
        value = self._audio("input").get("noise_reduction")
        return value if isinstance(value, Mapping) else None

    @property
    def tools(self) -> list[Mapping[str, Any]]:
        return list(self.data.get("tools") or [])

    @property
    def tool_choice(self) -> Any:
        return self.data.get("tool_choice", "auto")

    @property
    def max_output_tokens(self) -> int | None:
        value = self.data.get("max_output_tokens")
        return value if isinstance(value, int) else None

    def _audio(self, direction: str) -> Mapping[str, Any]:
        audio = self.data.get("audio") or {}
        return audio.get(direction) or {}

    def to_model(self, session_id: str, *, expires_at: int | None = None) -> SessionModel:
        """The session object of ``session.created``/``session.updated``."""
        payload = {**self.data, "id": session_id, "object": OBJECT_NAMES[self.kind]}
        if expires_at is not None:
            payload["expires_at"] = expires_at
        return session_adapter().validate_python(payload)

    def merged(
        self,
        update: Mapping[str, Any],
        *,
        vad_available: bool,
        limits: Limits | None = None,
        voices: Sequence[str] | None = None,
    ) -> SessionConfig:
        """The config after a ``session.update`` (the update's *set* fields only).

        What a live session may not change (type, model, the voice once audio
        was produced) the rules table (protocol/server_rules.py) refused
        before; this raises :class:`RemoteProtocolError` naming the offending
        ``session.*`` param for the rest; the current config is never modified.
        ``voices`` (what the TTS engine speaks; None: it cannot say) bounds a
        voice the update sets.
        """
        voice = ((update.get("audio") or {}).get("output") or {}).get("voice")
        if voices is not None and voice is not None:
            check_voice(voice, voices, "session.audio.output.voice")
        data = merge_update(self.data, update)
        return validated(data, vad_available=vad_available, limits=limits)


def validated(
    data: Mapping[str, Any], *, vad_available: bool, limits: Limits | None = None
) -> SessionConfig:
    """Re-validate a whole config with the schema, then the server's own rules.

    The sizes of its instructions and tools are checked against ``limits``
    (the defaults when not given: a client secret's session is bounded even
    where the caller does not pass the server's table).
    """
    try:
        session_adapter().validate_python(data)
    except ValidationError as exc:
        error = dict(first_error(exc))
        # loc starts with the union tag ('realtime'); name the field as sent.
        error["loc"] = ("session.update", "session", *error["loc"][1:])
        code, param, message = describe_validation_error(error, "session")
        raise RemoteProtocolError(message, code=code, param=param) from None
    check_semantics(data, vad_available=vad_available)
    check_sizes(data, limits or Limits())
    return SessionConfig(_with_turn_defaults(data))


def check_sizes(data: Mapping[str, Any], limits: Limits) -> None:
    """Raise the refusal of the first size limit a session's instructions or tools break."""
    facts = Facts(
        max_instructions_bytes=limits.instructions_bytes,
        max_tools_bytes=limits.tools_bytes,
        max_tools=limits.tools_count,
        max_json_depth=limits.json_depth,
    )
    refusal = session_size_refusal(facts, data)
    if refusal is not None:
        raise refusal.to_error()


def _with_turn_defaults(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Turn detection as it will run, every default explicit (as the hosted API shows it)."""
    audio_input = (data.get("audio") or {}).get("input") or {}
    settings = TurnSettings.from_wire(audio_input.get("turn_detection"))
    if settings is None:
        return data
    filled = copy.deepcopy(dict(data))
    filled["audio"]["input"]["turn_detection"] = settings.to_wire()
    return filled


def merge_update(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` applied: containers merged, other values replaced."""
    merged: dict[str, Any] = _deep_merge(base, update, ())
    return merged


def _deep_merge(base: Mapping[str, Any], update: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        current = out.get(key)
        child = (*path, key)
        if child in _MERGED_PATHS and isinstance(value, Mapping) and isinstance(current, Mapping):
            out[key] = _deep_merge(current, value, child)
        else:
            out[key] = copy.deepcopy(value)
    return out
