"""Beta-era names and shapes, recognised so they can be explained.

The beta Realtime interface was shut down in 2026, but old servers, old
recordings and old tutorials still produce its names. The client maps beta
*server event* names to their GA twins (with one warning per name); the server
rejects beta *client* shapes with an error that names the GA replacement.
Nothing here is ever relied on for GA behaviour.
"""

from __future__ import annotations

from typing import Final

# The tables below name beta shapes on purpose: `rtagents doctor scan` skips them.
# doctor: allow-beta-begin
# Beta server event type -> GA server event type.
BETA_SERVER_EVENT_TYPES: Final[dict[str, str]] = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "transcription_session.created": "session.created",
    "transcription_session.updated": "session.updated",
}

# Beta client event type -> how to say it in GA.
BETA_CLIENT_EVENT_TYPES: Final[dict[str, str]] = {
    "transcription_session.update": (
        "use 'session.update' with session.type = 'transcription' (GA)"
    ),
}

# Flat beta session fields -> their nested GA location.
BETA_SESSION_FIELDS: Final[dict[str, str]] = {
    "modalities": "session.output_modalities",
    "input_audio_format": "session.audio.input.format (an object such as "
    '{"type": "audio/pcm", "rate": 24000})',
    "output_audio_format": "session.audio.output.format (an object such as "
    '{"type": "audio/pcm", "rate": 24000})',
    "voice": "session.audio.output.voice",
    "turn_detection": "session.audio.input.turn_detection",
    "input_audio_transcription": "session.audio.input.transcription",
    "input_audio_noise_reduction": "session.audio.input.noise_reduction",
    "temperature": "nothing: GA realtime models have no temperature; remove it",
    "max_response_output_tokens": "session.max_output_tokens",
    "speed": "session.audio.output.speed",
}

# Beta audio format strings -> GA format objects.
BETA_AUDIO_FORMATS: Final[dict[str, str]] = {
    "pcm16": '{"type": "audio/pcm", "rate": 24000}',
    "g711_ulaw": '{"type": "audio/pcmu"}',
    "g711_alaw": '{"type": "audio/pcma"}',
}

BETA_HEADER: Final = "openai-beta"
BETA_HEADER_VALUE: Final = "realtime=v1"
# Browsers could not set the header, so the beta WebSocket took it as a subprotocol.
BETA_SUBPROTOCOL: Final = "openai-beta.realtime-v1"

# Beta-era server event names that GA servers no longer send (GA's union still
# decodes them, as legacy) -> what a GA server sends instead.
BETA_LEGACY_EVENT_TYPES: Final[dict[str, str]] = {
    "conversation.item.created": "conversation.item.added (then conversation.item.done)",
}

# Beta HTTP endpoints -> their GA replacement.
BETA_ENDPOINTS: Final[dict[str, str]] = {
    "/v1/realtime/sessions": "POST /v1/realtime/client_secrets "
    '({"session": {"type": "realtime", ...}} -> an ek_ value)',
    "/v1/realtime/transcription_sessions": "POST /v1/realtime/client_secrets "
    '({"session": {"type": "transcription", ...}} -> an ek_ value)',
}

# The official SDKs' beta namespace -> the GA one.
BETA_SDK_NAMESPACE: Final[tuple[str, str]] = (".beta.realtime", ".realtime")

# Model name prefixes served only on the beta interface -> the GA model to use.
BETA_MODEL_PREFIXES: Final[dict[str, str]] = {
    "gpt-4o-realtime-preview": "gpt-realtime",
    "gpt-4o-mini-realtime-preview": "gpt-realtime-mini",
}

# How the hosted API closed a beta-shaped session after the beta was shut down.
BETA_CLOSE_CODE: Final = 4000
BETA_CLOSE_REASON: Final = "beta_api_shape_disabled"
# doctor: allow-beta-end


def ga_replacement_for_field(path: str) -> str | None:
    """GA replacement for an unknown ``session.*`` field, if it is a beta one."""
    head, _, leaf = path.rpartition(".")
    if head not in ("session", "response") or leaf not in BETA_SESSION_FIELDS:
        return None
    return BETA_SESSION_FIELDS[leaf].replace("session.", f"{head}.", 1)
