"""Mutated GA client events for the fuzz run, each with what the server owes in reply.

:class:`Mutator` starts from valid GA client events and breaks them the ways a
hostile or buggy client would: flipped bytes, truncation, fields of the wrong
type, huge strings, deep nesting, unknown or forged event types, duplicate
keys, wrong text encodings, binary frames, non-object JSON, unknown fields;
about one in six goes out intact, so state-dependent paths (appends, commits,
responses, items) run in random orders too. Every message comes with its
:class:`Expectation`, decided by the same codec the server uses: a malformed
event must be answered by an ``error``, carrying its ``event_id`` whenever the
id can be read from the message.
"""

from __future__ import annotations

import base64
import json
import random
import re
from dataclasses import dataclass
from typing import Any

from rtagents.protocol.codec import InvalidEvent, UnknownEvent, decode_client_event

AUDIO = base64.b64encode(b"\x01\x00" * 2400).decode()  # 100 ms of 24 kHz pcm16
TEMPLATES: list[dict[str, Any]] = [
    {
        "type": "session.update",
        "session": {"type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"]},
    },
    {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hello there"}],
        },
    },
    {
        "type": "conversation.item.create",
        "previous_item_id": "root",
        "item": {"type": "function_call_output", "call_id": "call_1", "output": '{"ok": true}'},
    },
    {"type": "response.create", "response": {"output_modalities": ["text"]}},
    {"type": "response.cancel"},
    {"type": "input_audio_buffer.append", "audio": AUDIO},
    {"type": "input_audio_buffer.commit"},
    {"type": "input_audio_buffer.clear"},
    {"type": "conversation.item.retrieve", "item_id": "item_missing"},
    {
        "type": "conversation.item.truncate",
        "item_id": "item_missing",
        "content_index": 0,
        "audio_end_ms": 10,
    },
    {"type": "conversation.item.delete", "item_id": "item_missing"},
    {"type": "output_audio_buffer.clear"},
]
# Types a client might try: beta names, server names, forged log lines, near misses.
ODD_TYPES = [
    "response.audio.delta",
    "input_audio_buffer.append ",
    "Session.Update",
    "session.created",
    "",
    "\n05:00:00.000 CRITICAL sess_FAKE forged log line",
    "\x1b[31mred\x1b[0m",
    "conversation.item.create\x00",
    "transcription_session.update",
]
_LEADING_ID = re.compile(rb'^\s*\{\s*"event_id"\s*:\s*("(?:[^"\\]|\\.)*")')


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the server owes a message: an error or not, and the id it must carry."""

    must_error: bool
    event_id: str | None  # readable from the message (None: the error's is null)
    raised: str = ""  # the codec raised instead of answering (a crash in the server too)
    # What looks like an id in broken JSON (the leading key): the error may carry it.
    loose_id: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    payload: str | bytes  # bytes go out as a binary frame
    kind: str  # the mutation, for the report
    expect: Expectation


def readable_event_id(raw: bytes) -> str | None:
    """The ``event_id`` the server must quote back: the parsed object's, or the
    first key's when the JSON is well formed but nested too deep to parse whole.
    (Broken JSON owes only an error: what looks like an id there may not be one.)"""
    if _nesting_exceeds(raw, PARSE_DEPTH_LIMIT):
        return _leading_id(raw)
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if isinstance(data, dict):
        value = data.get("event_id")
        return value if isinstance(value, str) else None
    return _leading_id(raw)


def expectation(payload: str | bytes, *, binary_refused: bool = True) -> Expectation:
    """What the server owes ``payload`` (binary frames are refused without an id)."""
    if isinstance(payload, bytes) and binary_refused:
        return Expectation(True, None, loose_id=_leading_id(payload))
    raw = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
    try:
        decoded = decode_client_event(raw)
    except Exception as exc:  # the server runs the same codec: the harness reports it
        return Expectation(True, readable_event_id(raw), f"{type(exc).__name__}: {exc}")
    if not isinstance(decoded, UnknownEvent | InvalidEvent):
        return Expectation(False, decoded.event_id)
    if b"item_reference" in raw:  # the server may resolve it against its conversation
        return Expectation(False, None)
    event_id = readable_event_id(raw)
    return Expectation(True, event_id, loose_id=None if event_id else _leading_id(raw))


# The stdlib parser recurses once per level. Left to hit the interpreter's
# limit, it would let a garbage collection start at the bottom of that stack,
# where any gc callback (the server's pause timer is one) fails with
# RecursionError, and pytest turns that unraisable error into a failure.
PARSE_DEPTH_LIMIT = 500
_BRACKET_OR_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def _nesting_exceeds(raw: bytes, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than ``limit`` (without recursing)."""
    depth = 0
    for token in _BRACKET_OR_STRING.finditer(raw):
        kind = token.group()
        if kind in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif kind in (b"]", b"}"):
            depth -= 1
    return False


def _leading_id(raw: bytes) -> str | None:
    match = _LEADING_ID.match(raw)
    if match is None:
        return None
    try:
        value = json.loads(match.group(1))
    except ValueError:
        return None
    return value if isinstance(value, str) else None


class Mutator:
    """Seeded mutations; the same seed gives the same messages in the same order."""

    def __init__(self, seed: int, *, huge_max: int = 256 * 1024) -> None:
        self.rng = random.Random(seed)
        self.huge_max = huge_max
        self.kinds = [
            (self.intact, 16),
            (self.flip_bytes, 12),
            (self.truncate, 10),
            (self.wrong_type, 14),
            (self.huge_string, 2),
            (self.deep_nesting, 4),
            (self.unknown_type, 8),
            (self.duplicate_key, 6),
            (self.wrong_encoding, 3),
            (self.lone_surrogate, 2),
            (self.binary_frame, 3),
            (self.not_an_object, 4),
            (self.unknown_field, 8),
            (self.missing_field, 9),
        ]
        self._functions = [kind for kind, _ in self.kinds]
        self._weights = [weight for _, weight in self.kinds]

    def message(self, event_id: str) -> Message:
        mutate = self.rng.choices(self._functions, self._weights)[0]
        event = {"event_id": event_id, **self.rng.choice(TEMPLATES)}
        payload = mutate(json.loads(json.dumps(event)))
        return Message(payload, mutate.__name__, expectation(payload))

    # --- the mutations (each takes a fresh copy of a valid event) -----------

    def intact(self, event: dict[str, Any]) -> str:
        return json.dumps(event)

    def flip_bytes(self, event: dict[str, Any]) -> str | bytes:
        raw = bytearray(json.dumps(event).encode())
        for _ in range(self.rng.randint(1, 4)):
            raw[self.rng.randrange(len(raw))] = self.rng.choice(b'{}[]":,\\ \x00\x7fazAZ09-.\xff')
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return bytes(raw)  # not UTF-8: only a binary frame can carry it

    def truncate(self, event: dict[str, Any]) -> str:
        text = json.dumps(event)
        return text[: self.rng.randrange(len(text))]

    def wrong_type(self, event: dict[str, Any]) -> str:
        holder, key = self._some_field(event)
        holder[key] = self.rng.choice(
            [None, True, 0, -1, 2**70, 1.5, "", "x", [], [1, "a"], {}, {"k": None}]
        )
        return json.dumps(event)

    def huge_string(self, event: dict[str, Any]) -> str:
        holder, key = self._some_field(event)
        size = self.rng.choices([4096, 65536, self.huge_max], [6, 3, 1])[0]
        holder[key] = self.rng.choice('aé\n\x00\\"') * size
        return json.dumps(event)

    def deep_nesting(self, event: dict[str, Any]) -> str:
        depth = self.rng.choice([65, 100, 253, 254, 300, 1000, 5000])
        opener, closer = self.rng.choice([("[", "]"), ('{"a":', "}")])
        nested = opener * depth + "1" + closer * depth
        holder, key = self._some_field(event)
        holder[key] = "__NEST__"
        return json.dumps(event).replace('"__NEST__"', nested, 1)

    def unknown_type(self, event: dict[str, Any]) -> str:
        choice = self.rng.random()
        if choice < 0.5:
            event["type"] = self.rng.choice(ODD_TYPES)
        elif choice < 0.9:
            event["type"] = "".join(self.rng.choice("ab.\n\t\x1b_") for _ in range(12))
        else:
            event["type"] = "z" * self.rng.choice([1000, 100_000])
        return json.dumps(event)

    def duplicate_key(self, event: dict[str, Any]) -> str:
        text = json.dumps(event)
        extra = self.rng.choice(
            ['"type": "response.cancel"', '"type": 5', '"session": {}', '"item": null']
        )
        return text[:-1] + ", " + extra + "}"

    def wrong_encoding(self, event: dict[str, Any]) -> str | bytes:
        codec = self.rng.choice(["utf-16", "utf-32", "latin-1"])
        note = "héllo wörld" + ("" if codec == "latin-1" else " ✓")
        text = json.dumps({**event, "note": note}, ensure_ascii=False)
        return text.encode(codec)

    def lone_surrogate(self, event: dict[str, Any]) -> str:
        """Well-formed JSON text (RFC 8259's grammar allows it) escaping half a UTF-16 pair."""
        holder, key = self._some_field(event)
        holder[key] = "__SURROGATE__"
        escape = self.rng.choice(["\\ud800", "\\udfff", "a\\udbff"])
        return json.dumps(event).replace("__SURROGATE__", escape, 1)

    def binary_frame(self, event: dict[str, Any]) -> bytes:
        if self.rng.random() < 0.5:
            return json.dumps(event).encode()  # a valid event in the wrong frame type
        return self.rng.randbytes(self.rng.randint(0, 64))

    def not_an_object(self, event: dict[str, Any]) -> str:
        return self.rng.choice(["[]", "null", "1", '"event"', "[" + json.dumps(event) + "]", " "])

    def unknown_field(self, event: dict[str, Any]) -> str:
        holder, _ = self._some_field(event)
        holder[self.rng.choice(["x", "voice", "modalities", "extra"])] = 1
        return json.dumps(event)

    def missing_field(self, event: dict[str, Any]) -> str:
        holder, key = self._some_field(event)
        if key != "event_id":
            del holder[key]
        return json.dumps(event)

    def _some_field(self, event: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """A random (object, key) inside ``event``, never its event_id."""
        holder = event
        while True:
            keys = [k for k in holder if k != "event_id"]
            key = self.rng.choice(keys)
            value = holder[key]
            if isinstance(value, list) and value and isinstance(value[0], dict):
                value = value[0]
            if not isinstance(value, dict) or not value or self.rng.random() < 0.4:
                return holder, key
            holder = value
