"""How an event goes into a recording line: as it was on the wire, its audio per the mode.

An event the caller knows the type of is one JSON object already: it is
written as it is (a raw newline, whitespace in JSON, becomes a space). Its
audio payload, when the caller hands it over, is found by slicing: elided to
its length and checksum, or moved to ``NAME.audio``, without parsing the
frame. Anything else is parsed; a frame that is not a JSON object is kept as
its first characters.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from google_crc32c import value as _crc32c

from ..protocol.audio import b64_decoded_length
from ..protocol.client_text import one_line
from ..protocol.json_depth import parse_untrusted
from .recording_format import (
    AUDIO_FIELDS,
    ELIDED_JSON,
    RAW_CHARS,
    AudioMode,
    decode_audio,
    elide,
    elided_json,
)

log = logging.getLogger("rtagents.recording")
# The key before each audio event's payload, as an encoder writes it (no spaces).
_FIELD_KEYS = {kind: f'"{field}"' for kind, field in AUDIO_FIELDS.items()}
# The same with the colon and the value's opening quote: compact JSON, the usual case.
_COMPACT_KEYS = {kind: f'"{field}":"' for kind, field in AUDIO_FIELDS.items()}
# A body with its payload elided: what is before it, the elided payload, what is after.
_ELIDED_BODY = "%s" + ELIDED_JSON + "%s"


def compact_elided(wire: object, event_type: str, audio: str) -> str | None:
    """The event's body with ``audio`` elided, when ``wire`` is compact, one-line JSON with
    a canonical base64 payload (what encoders send); None to take the general path.

    It runs for an audio event of a recorded voice call, so it does not parse:
    the payload is known canonical here, so :func:`.elided_json`'s checks are
    not made again (the length comes from the padding, the checksum from the
    text). It reads the payload three times, all in C: the newline test, the
    comparison with the frame, the checksum; and only the short rest of the
    frame for newlines.
    """
    if type(wire) is not str or (end := _payload_end(wire, event_type, audio)) < 0:
        return None
    start = end - len(audio)
    head, tail = wire[: start - 1], wire[end + 1 :]
    if (
        "\n" in audio
        or not wire.startswith(audio, start)
        or "\n" in head
        or "\r" in head
        or "\n" in tail
        or "\r" in tail
    ):
        return None
    return _elided_body(head, audio, tail)


def encoded_elided(wire: str, event_type: str, audio: str) -> str | None:
    """:func:`compact_elided` for a frame this side's encoder wrote from an event whose
    payload is ``audio`` (``RecordingWriter.sent``, a reply's 10 KB audio deltas);
    None to take the general path.

    Such a frame (a pydantic model's ``model_dump_json``) is compact JSON with no
    raw newline, and its first payload key is the event's own field (declared
    fields come before any extra one, and none before it holds an object), so
    the frame is not scanned for newlines nor compared with the payload. What is still
    proved: the value there is exactly ``audio``. With no ``"`` in ``audio``, any
    escape the encoder had to write would lengthen the value, and the character at
    the payload's length would then be part of it, not the closing quote.
    """
    end = _payload_end(wire, event_type, audio)
    if end < 0 or '"' in audio:
        return None
    return _elided_body(wire[: end - len(audio) - 1], audio, wire[end + 1 :])


def _payload_end(wire: str, event_type: str, audio: str) -> int:
    """Where ``audio`` would end in ``wire`` after the event's compact payload key, when a
    closing quote is there and ``audio`` can be canonical base64; else -1."""
    key = _COMPACT_KEYS.get(event_type)
    if key is None:
        return -1
    start = wire.find(key)
    if start < 0:
        return -1
    end = start + len(key) + len(audio)
    if wire[end : end + 1] != '"' or len(audio) % 4 or not audio.isascii():
        return -1
    return end


def _elided_body(head: str, audio: str, tail: str) -> str:
    """``head``, then ``audio`` elided to its length and checksum, then ``tail``."""
    checksum = _crc32c(audio.encode("ascii"))
    return _ELIDED_BODY % (head, b64_decoded_length(audio), checksum, tail)


class EventBodies:
    """Writes the ``"event"`` value of event lines for one recording."""

    def __init__(self, audio: AudioMode, audio_path: Path) -> None:
        self.audio: AudioMode = audio
        self.audio_path = audio_path
        self._audio_file: IO[bytes] | None = None

    def body(
        self, wire: str | bytes | Mapping[str, Any], event_type: str | None, audio: str | None
    ) -> str:
        """The JSON of ``wire`` for its line (``null,"raw":...`` when it is not an object)."""
        if event_type is None or not isinstance(wire, str):
            return self._parsed(wire)
        if self.audio != "inline" and event_type in AUDIO_FIELDS:
            span = payload_span(wire, event_type, audio) if audio else None
            if span is None:
                return self._parsed(wire)  # the payload escaped in the text, or none handed over
            assert audio is not None
            if self.audio == "elided":
                moved = elided_json(audio)
            else:
                moved = json.dumps(self._beside(decode_audio(audio)), separators=(",", ":"))
            wire = f"{wire[: span[0] - 1]}{moved}{wire[span[1] + 1 :]}"
        if "\n" in wire or "\r" in wire:  # whitespace of a valid JSON text: one line each
            wire = wire.replace("\n", " ").replace("\r", " ")
        return wire

    def close(self) -> None:
        if self._audio_file is not None:
            self._audio_file.close()
            self._audio_file = None

    def _parsed(self, wire: str | bytes | Mapping[str, Any]) -> str:
        if isinstance(wire, Mapping):
            return json.dumps(self._with_audio(dict(wire)), separators=(",", ":"))
        text = wire if isinstance(wire, str) else wire.decode("utf-8", "replace")
        try:
            parsed = parse_untrusted(text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raw = json.dumps(one_line(text, RAW_CHARS))
            return f'null,"raw":{raw},"raw_bytes":{len(wire)}'
        return json.dumps(self._with_audio(parsed), separators=(",", ":"))

    def _with_audio(self, event: dict[str, Any]) -> dict[str, Any]:
        """``event`` with its audio payload in the recording's audio mode."""
        field = AUDIO_FIELDS.get(str(event.get("type")))
        payload = event.get(field) if field is not None else None
        if field is None or not isinstance(payload, str) or self.audio == "inline":
            return event
        if self.audio == "elided":
            event[field] = elide(payload)
        else:
            event[field] = self._beside(decode_audio(payload))
        return event

    def _beside(self, data: bytes) -> dict[str, Any]:
        try:
            if self._audio_file is None:
                self._audio_file = open(self.audio_path, "ab")  # noqa: SIM115 (closed in close)
            offset = self._audio_file.tell()
            self._audio_file.write(data)
        except OSError as exc:  # the recording goes on without the audio, elided
            log.warning(
                "cannot write audio to %s (%s); audio is elided from here", self.audio_path, exc
            )
            self.audio = "elided"
            return {"elided": True, "bytes": len(data)}
        return {"file": self.audio_path.name, "offset": offset, "bytes": len(data)}


def payload_span(text: str, event_type: str, audio: str) -> tuple[int, int] | None:
    """Where ``audio`` sits in ``text`` as the string value of its field, or None.

    Whitespace around the colon is allowed (Python's ``json.dumps`` writes
    ``"audio": "..."``), so stock clients' frames take this path too. The
    short key is searched for, not the payload: searching for kilobytes of
    repetitive base64 (silence) costs several microseconds.
    """
    key = _FIELD_KEYS[event_type]
    at = text.find(key)
    while at >= 0:
        start = _value_start(text, at + len(key))
        end = start + len(audio)
        if start > 0 and text.startswith(audio, start) and text[end : end + 1] == '"':
            return start, end
        at = text.find(key, at + 1)
    return None


def _value_start(text: str, at: int) -> int:
    """Just inside the opening quote of the string after ``: `` at ``at``, or -1."""
    at = _skip_space(text, at)
    if text[at : at + 1] != ":":
        return -1
    at = _skip_space(text, at + 1)
    return at + 1 if text[at : at + 1] == '"' else -1


def _skip_space(text: str, at: int) -> int:
    while text[at : at + 1] in (" ", "\t", "\n", "\r"):
        at += 1
    return at
