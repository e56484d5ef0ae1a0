"""Recording format v3: the header, the audio payload forms and what is redacted.

Shared by the writer and the reader (``recording.py``), ``rtagents trace`` and
``rtagents replay``; docs/recording.md describes every field. Nothing here
does I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from google_crc32c import value as _crc32c

from ..protocol.audio import b64_decoded_length
from ..protocol.json_depth import parse_untrusted

FORMAT = "rtagents.recording"
VERSION = 3
# Version 2 is version 3 with CRC-32 (``crc32``) for CRC-32C (``crc32c``) in elided
# audio; version 1 is version 2 without ``appends`` records: this reader reads all three.
READABLE_VERSIONS = (1, 2, 3)
CHECKSUM = "crc32c"  # the key of an elided payload's checksum
DEFAULT_ROTATE_BYTES = 64 * 1024 * 1024
RAW_CHARS = 1000  # characters of an unreadable frame kept in its record

Side = Literal["client", "server"]
AudioMode = Literal["elided", "inline", "beside"]
Direction = Literal["sent", "received"]
CloseBy = Literal["client", "server", "transport"]
AUDIO_MODES: tuple[AudioMode, ...] = ("elided", "inline", "beside")

# Event type -> the field holding base64 audio (the events with audio payloads).
AUDIO_FIELDS: Mapping[str, str] = {
    "response.output_audio.delta": "delta",
    "input_audio_buffer.append": "audio",
}
REDACTED = "ek_…redacted"
_SECRET_PREFIXES = ("ek_", "sk-")
# Query parameters whose values are credentials whatever they look like.
_SECRET_KEYS = frozenset({"api_key", "key", "token", "client_secret", "authorization", "secret"})


class RecordingError(ValueError):
    """A file that is not a recording this version can read; the message says why and what to do."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """Line 1 of every part of a recording."""

    side: Side
    transport: str
    session_id: str | None = None
    url: str | None = None
    model: str | None = None
    started_at: float = 0.0
    audio: AudioMode = "elided"
    part: int = 0
    rtagents_version: str = "0.0.0+unknown"
    extra: Mapping[str, Any] = field(default_factory=dict)  # fields a later v1 writer added

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "side": self.side,
            "session_id": self.session_id,
            "transport": self.transport,
            "url": self.url,
            "model": self.model,
            "started_at": self.started_at,
            "audio": self.audio,
            "part": self.part,
            "rtagents_version": self.rtagents_version,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: Any, *, where: str) -> Header:
        """Check a header line; :class:`RecordingError` names what is wrong."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise RecordingError(
                f"{where} is not an rtagents recording: its first line has no "
                f'"format": "{FORMAT}" (record one with connect(..., record=PATH) '
                "or rtagents serve --record DIR)"
            )
        version = data.get("version")
        if version not in READABLE_VERSIONS:
            raise RecordingError(
                f"{where} is a version {version!r} recording; this rtagents reads versions "
                f"{_listed(READABLE_VERSIONS)}: use the rtagents version "
                f"that wrote it ({data.get('rtagents_version', 'unknown')})"
            )
        side, audio, part = data.get("side"), data.get("audio"), data.get("part")
        if side not in ("client", "server"):
            raise RecordingError(f"{where}: header field 'side' must be client or server")
        if audio not in AUDIO_MODES:
            raise RecordingError(f"{where}: header field 'audio' must be one of {AUDIO_MODES}")
        if not isinstance(part, int) or part < 0:
            raise RecordingError(f"{where}: header field 'part' must be an integer >= 0")
        known = set(cls.__dataclass_fields__) | {"format", "version"}
        return cls(
            side=side,
            transport=str(data.get("transport") or "unknown"),
            session_id=_str_or_none(data.get("session_id")),
            url=_str_or_none(data.get("url")),
            model=_str_or_none(data.get("model")),
            started_at=float(data.get("started_at") or 0.0),
            audio=audio,
            part=part,
            rtagents_version=str(data.get("rtagents_version") or "unknown"),
            extra={k: v for k, v in data.items() if k not in known},
        )


def _listed(values: tuple[int, ...]) -> str:
    """``1, 2 and 3``."""
    words = [str(value) for value in values]
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def elide(b64: str) -> dict[str, Any]:
    """An audio payload as its decoded length and a checksum (what ``elided`` mode keeps).

    The checksum is the CRC-32C of the base64 text as sent: the same audio sent
    the same way has the same one. CRC-32C because CPUs compute it in hardware
    (SSE4.2, ARMv8): a reply's 10 KB audio delta costs 0.5 us against 2 us for
    zlib's CRC-32 (bench/recording.py). It tells audio apart; it is no proof
    against tampering.
    """
    return {"elided": True, "bytes": decoded_length(b64), CHECKSUM: checksum(b64)}


# An elided payload as compact JSON: its decoded length and its CRC-32C (a number).
ELIDED_JSON = '{"elided":true,"bytes":%d,"' + CHECKSUM + '":"%08x"}'


def elided_json(b64: str) -> str:
    """:func:`elide` as compact JSON, built without ``json.dumps``."""
    return ELIDED_JSON % (decoded_length(b64), _crc32c(b64.encode("ascii", "replace")))


def checksum(b64: str) -> str:
    """The checksum of an elided payload: CRC-32C of its text, 8 hex digits."""
    return "%08x" % _crc32c(b64.encode("ascii", "replace"))  # noqa: UP031 (half :08x's cost)


def decoded_length(b64: str) -> int:
    """How many bytes ``b64`` decodes to (from its length when it is canonical)."""
    if len(b64) % 4 == 0 and b64.isascii() and "\n" not in b64:
        return b64_decoded_length(b64)
    return len(decode_audio(b64))


def decode_audio(b64: str) -> bytes:
    """The bytes of a base64 audio payload; a payload that is not base64 counts as none."""
    try:
        return base64.b64decode(b64, validate=False)
    except (binascii.Error, ValueError):
        return b""


def redact_text(text: str) -> str:
    """``text`` with every ``ek_``/``sk-`` token replaced by :data:`REDACTED`."""
    return _TOKEN.sub(REDACTED, text)


_TOKEN = re.compile(r"(?:ek_|sk-)[A-Za-z0-9_\-]+")


def redact_url(url: str | None) -> str | None:
    """A URL fit for a recording: no user info, no credential in its query."""
    if url is None:
        return None
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]  # user:password@ never recorded
    query = [
        (key, REDACTED if _is_secret(key, value) else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    cleaned = urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))
    return redact_text(cleaned)


def _is_secret(key: str, value: str) -> bool:
    return key.lower() in _SECRET_KEYS or value.startswith(_SECRET_PREFIXES)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers fit for a recording: Authorization and credential-looking values redacted."""
    safe = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in ("authorization", "proxy-authorization", "cookie") or "key" in lowered:
            safe[name] = REDACTED
        else:
            safe[name] = redact_text(value)
    return safe


def transport_kind(transport: object) -> str:
    """``websocket``, ``webrtc`` or ``memory`` for a transport object, by its class's name."""
    names = " ".join(cls.__name__ for cls in type(transport).__mro__)
    if "DataChannel" in names or "WebRTC" in names:
        return "webrtc"
    if "Memory" in names:
        return "memory"
    return "websocket"


def tool_output_error(event: Any) -> tuple[str | None, str] | None:
    """``(call_id, message)`` when ``event`` (a dict or a model) sends a tool's failure.

    A ``conversation.item.create`` of a ``function_call_output`` whose output is
    ``{"error": "..."}`` is how the SDK's tool runner (and most apps) answer a
    call whose tool timed out, raised or was unknown.
    """
    item = _get(event, "item")
    if _get(event, "type") != "conversation.item.create" or _get(item, "type") != (
        "function_call_output"
    ):
        return None
    output = _get(item, "output")
    if not isinstance(output, str) or '"error"' not in output:
        return None
    try:
        parsed = parse_untrusted(output)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("error"), str):
        return None
    call_id = _get(item, "call_id")
    return (call_id if isinstance(call_id, str) else None), parsed["error"]


def _get(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)
