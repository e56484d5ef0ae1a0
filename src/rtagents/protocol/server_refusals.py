"""Each rule of the server's protocol: a check that says how an event breaks it, or None.

The checks are the rows of :data:`rtagents.protocol.server_rules.RULES`; each
reads only :class:`~.server_facts.Facts` and :class:`~.server_facts.Request`
and returns the :class:`~.server_facts.Refuse` the server answers with. The
codes are the hosted GA API's; the messages say what to send instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .client_text import quoted
from .ordering import ROOT
from .server_facts import MIN_COMMIT_MS, PCM16_BYTES_PER_MS, Refuse, Request, SessionFacts


def session_closing(facts: SessionFacts, request: Request) -> Refuse | None:
    if not facts.closing:
        return None
    return Refuse(
        "session_closed",
        None,
        "The session is closing; no more events are accepted. Open a new session.",
    )


# --- session.update ---------------------------------------------------------------------


def type_changed(facts: SessionFacts, request: Request) -> Refuse | None:
    wanted = request.session.get("type", facts.kind)
    if wanted == facts.kind:
        return None
    return Refuse(
        "invalid_value",
        "session.type",
        f"Cannot change session.type from '{facts.kind}' to '{wanted}'; open a new session "
        "(or mint a secret) of the type you need.",
    )


def model_changed(facts: SessionFacts, request: Request) -> Refuse | None:
    if "model" not in request.session or request.session["model"] == facts.model:
        return None
    return Refuse(
        "cannot_update_model",
        "session.model",
        f"Cannot change the model of a live session (it is {quoted(str(facts.model))}); choose "
        "the model when connecting (?model=...).",
    )


def voice_fixed(facts: SessionFacts, request: Request) -> Refuse | None:
    output = _path(request.session, "audio", "output")
    if not facts.audio_produced or "voice" not in output or output["voice"] == facts.voice:
        return None
    return Refuse(
        "cannot_update_voice",
        "session.audio.output.voice",
        "Cannot update a session's voice after the model has produced audio "
        f"(it is {quoted(str(facts.voice))}). Set the voice before the first response, or open "
        "a new session to change it.",
    )


def no_vad_engine(facts: SessionFacts, request: Request) -> Refuse | None:
    turn_detection = _path(request.session, "audio", "input").get("turn_detection")
    if facts.vad_available or not isinstance(turn_detection, Mapping):
        return None
    return Refuse(
        "unsupported_turn_detection",
        "session.audio.input.turn_detection",
        f"Turn detection '{turn_detection.get('type')}' is not available: this server has no "
        "VAD engine. Set session.audio.input.turn_detection to null and commit the input audio "
        "buffer yourself (input_audio_buffer.commit, then response.create), or run the server "
        "with a VAD engine.",
    )


def _path(data: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    for key in keys:
        value = data.get(key)
        data = value if isinstance(value, Mapping) else {}
    return data


# --- input and output audio ------------------------------------------------------------


def append_too_large(facts: SessionFacts, request: Request) -> Refuse | None:
    limit, size = facts.max_append_bytes, request.appended_bytes
    if limit is None or size <= limit:
        return None
    return Refuse(
        "input_audio_too_large",
        "audio",
        f"The audio is {size} bytes once decoded; one event may carry at most {limit} bytes. "
        "Send the audio in several smaller appends.",
    )


def buffer_full(facts: SessionFacts, request: Request) -> Refuse | None:
    if facts.turn_detection:  # the VAD must still hear it; old audio is let go instead
        return None
    added_ms = request.appended_bytes / facts.input_bytes_per_ms
    if facts.buffered_ms + added_ms <= facts.buffer_limit_ms:
        return None
    limit = round(facts.buffer_limit_ms * PCM16_BYTES_PER_MS)
    return Refuse(
        "input_audio_buffer_full",
        "audio",
        f"The input audio buffer is full: it holds {facts.buffered_ms / 1000:.1f} s of "
        f"uncommitted audio and this append adds {added_ms / 1000:.1f} s, past the limit of "
        f"{facts.buffer_limit_ms / 1000:.1f} s ({limit} bytes of 24 kHz pcm16; limit "
        "input_buffer_bytes). The append was not buffered; the buffer is kept. Commit it "
        "(input_audio_buffer.commit) or clear it before appending more, or turn on turn "
        "detection.",
    )


def commit_too_short(facts: SessionFacts, request: Request) -> Refuse | None:
    if facts.buffered_ms >= MIN_COMMIT_MS:
        return None
    return Refuse(
        "input_audio_buffer_commit_empty",
        None,
        "Error committing input audio buffer: buffer too small. Expected at least "
        f"{MIN_COMMIT_MS}ms of audio, but buffer only has {facts.buffered_ms:.2f}ms of audio.",
    )


def client_plays_audio(facts: SessionFacts, request: Request) -> Refuse | None:
    if facts.plays_audio:
        return None
    return Refuse(
        "unsupported_on_websocket",
        "type",
        "output_audio_buffer.clear is only supported on WebRTC and SIP connections. On a "
        "WebSocket the client plays the audio: stop playback, send response.cancel, then "
        "conversation.item.truncate with the audio_end_ms that was heard.",
    )


# --- conversation items ----------------------------------------------------------------


def missing(item_id: str, param: str) -> Refuse:
    # The id is the client's text: quoted escaped and bounded.
    return Refuse(
        "item_not_found", param, f"Item {quoted(item_id)} does not exist in the conversation."
    )


def item_unknown(facts: SessionFacts, request: Request) -> Refuse | None:
    item_id = request.item_id or ""
    return None if item_id in facts.items else missing(item_id, "item_id")


def reserved_id(facts: SessionFacts, request: Request) -> Refuse | None:
    if request.new_item_id != ROOT:
        return None
    return Refuse(
        "invalid_value",
        "item.id",
        f"An item may not have the id '{ROOT}': it means 'the start of the conversation' in "
        "previous_item_id. Choose another id, or leave 'id' out to let the server choose one.",
    )


def duplicate_id(facts: SessionFacts, request: Request) -> Refuse | None:
    wanted = request.new_item_id
    if not wanted or wanted not in facts.items:
        return None
    return Refuse(
        "duplicate_item_id",
        "item.id",
        f"An item with id {quoted(wanted)} already exists in the conversation; leave 'id' out "
        "to let the server choose one.",
    )


def previous_unknown(facts: SessionFacts, request: Request) -> Refuse | None:
    previous = request.previous_item_id
    if previous is None or previous == ROOT or previous in facts.items:
        return None
    return missing(previous, "previous_item_id")


# --- responses -------------------------------------------------------------------------


def transcription_only(facts: SessionFacts, request: Request) -> Refuse | None:
    if facts.kind != "transcription":
        return None
    return Refuse(
        "invalid_value",
        "type",
        "A transcription session does not create responses; open a realtime session "
        "(session.type = 'realtime') to talk to the model.",
    )


def conversation_unknown(facts: SessionFacts, request: Request) -> Refuse | None:
    if request.conversation in (None, "", "auto", "none"):
        return None
    return Refuse(
        "invalid_value",
        "response.conversation",
        "response.conversation must be 'auto' (the session's conversation) or 'none' "
        f"(out of band); got {quoted(str(request.conversation))}.",
    )


def response_active(facts: SessionFacts, request: Request) -> Refuse | None:
    if request.conversation == "none" or facts.active_response is None:
        return None
    return Refuse(
        "conversation_already_has_active_response",
        None,
        f"Conversation already has an active response in progress: {facts.active_response}. "
        "Wait until the response is finished before creating a new one, or cancel it.",
    )


def nothing_to_cancel(facts: SessionFacts, request: Request) -> Refuse | None:
    wanted = request.response_id
    running = facts.responses
    if facts.active_response is not None:
        running = running | {facts.active_response}
    if (running and not wanted) or wanted in running:
        return None
    detail = f" with id {quoted(wanted)}" if wanted else ""
    return Refuse(
        "response_cancel_not_active",
        "response_id" if wanted else None,
        f"Cancellation failed: no active response found{detail}.",
    )
