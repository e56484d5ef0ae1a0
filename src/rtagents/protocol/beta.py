"""Beta-era names and shapes, recognised so they can be explained.

The beta Realtime interface was shut down in 2026, but old servers, old
recordings and old tutorials still produce its names. The client maps beta
*server event* names to their GA twins (with one warning per name); the server
rejects beta *client* shapes with an error that names the GA replacement.
Nothing here is ever relied on for GA behaviour.
"""

from __future__ import annotations

from typing import Final

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


def ga_replacement_for_field(path: str) -> str | None:
    """GA replacement for an unknown ``session.*`` field, if it is a beta one."""
    head, _, leaf = path.rpartition(".")
    if head not in ("session", "response") or leaf not in BETA_SESSION_FIELDS:
        return None
    return BETA_SESSION_FIELDS[leaf].replace("session.", f"{head}.", 1)
