"""The beta-usage rules of ``rtagents doctor scan``, built from :mod:`rtagents.protocol.beta`.

Every beta name here comes from the protocol's own beta tables (one source of
truth: the codec explains the same names at run time). Each rule matches a
*usage pattern*, never a bare word, so GA code that happens to contain the word
(``voice`` nested under ``audio.output``, ``output_modalities``, the GA event
``conversation.item.input_audio_transcription.completed``, a ``pcm16`` encoding
name in an audio library) is not reported. Pure: text in, hits out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal

from ..protocol.beta import (
    BETA_AUDIO_FORMATS,
    BETA_CLIENT_EVENT_TYPES,
    BETA_CLOSE_CODE,
    BETA_CLOSE_REASON,
    BETA_ENDPOINTS,
    BETA_HEADER,
    BETA_HEADER_VALUE,
    BETA_LEGACY_EVENT_TYPES,
    BETA_MODEL_PREFIXES,
    BETA_SDK_NAMESPACE,
    BETA_SERVER_EVENT_TYPES,
    BETA_SESSION_FIELDS,
    BETA_SUBPROTOCOL,
    ga_replacement_for_field,
)

FileKind = Literal["python", "js", "json", "yaml", "toml", "env", "text", "markup"]
"""How a file's keys are written: decides which key patterns apply. ``text`` is a log
(a bare close code 4000 counts there); ``markup`` is prose (Markdown, HTML, shell)."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One beta usage on one line: where (0-based column), which rule, and the GA way."""

    column: int
    rule: str
    found: str
    what: str
    replacement: str


# Session fields whose name alone is beta (GA has no field of that name anywhere);
# the others (voice, turn_detection, temperature, speed) are beta only at the top
# level of a session or response object, which the structure trackers decide.
UNAMBIGUOUS_FIELDS: Final = frozenset(
    name
    for name in BETA_SESSION_FIELDS
    if name not in {"voice", "turn_detection", "temperature", "speed"}
)


def fields_owner(name: str | None) -> str | None:
    """``session``/``response`` if a value held under ``name`` is such an object.

    A session config is often held under a longer name (``SESSION``,
    ``default_session``, ``sessionConfig``); a response only under ``response``.
    """
    if name is None:
        return None
    plain = name.lower().replace("_", "")
    if plain.endswith("session") or plain.endswith("sessionconfig"):
        return "session"
    return "response" if plain == "response" else None


_ALL_EVENTS: Final[dict[str, str]] = {
    **BETA_SERVER_EVENT_TYPES,
    **BETA_CLIENT_EVENT_TYPES,
    **BETA_LEGACY_EVENT_TYPES,
}


def _family_prefixes() -> dict[str, str]:
    """Beta event-name prefixes (the part before the last dot) -> their GA prefix."""
    prefixes: dict[str, str] = {}
    for beta, ga in BETA_SERVER_EVENT_TYPES.items():
        prefixes.setdefault(beta.rsplit(".", 1)[0] + ".", ga.rsplit(".", 1)[0] + ".")
    return prefixes


_FAMILIES: Final = _family_prefixes()
_EVENT_RE: Final = re.compile(
    r"(?<![\w.])(?:"
    + "|".join(re.escape(name) for name in sorted(_ALL_EVENTS, key=len, reverse=True))
    + r"|(?:"
    + "|".join(re.escape(prefix) for prefix in _FAMILIES)
    + r")(?:\w+|\*)?)(?![\w.])"
)
_HEADER_RE: Final = re.compile(
    rf"(?i)(?:{BETA_HEADER.replace('-', '[-_]')}[\"']?\s*[:,=]\s*[\"']?)?"
    rf"(?<![\w-]){re.escape(BETA_HEADER_VALUE)}(?![\w.-])"
)
_SUBPROTOCOL_RE: Final = re.compile(rf"(?i){re.escape(BETA_SUBPROTOCOL)}(?![\w.-])")
_ENDPOINT_RE: Final = re.compile(r"(?:/v1)?/realtime/(?:transcription_)?sessions(?![\w-])")
_SDK_RE: Final = re.compile(rf"{re.escape(BETA_SDK_NAMESPACE[0])}(?![\w])")
_MODEL_RE: Final = re.compile(
    r"(?<![\w-])(?:"
    + "|".join(re.escape(prefix) for prefix in sorted(BETA_MODEL_PREFIXES, key=len, reverse=True))
    + r")[\w.-]*"
)
_FORMAT_RE: Final = re.compile(
    r"(?i)format[\"']?\s*[:=]\s*[\"']?(?P<value>"
    + "|".join(re.escape(name) for name in BETA_AUDIO_FORMATS)
    + r")(?![\w-])"
)
_CLOSE_REASON_RE: Final = re.compile(rf"(?<!\w){re.escape(BETA_CLOSE_REASON)}(?!\w)")
_CLOSE_CODE_RE: Final = re.compile(rf"(?i)close.*?(?<![\w.]){BETA_CLOSE_CODE}(?![\w.])")
_FIELDS: Final = "|".join(sorted(UNAMBIGUOUS_FIELDS, key=len, reverse=True))
_TEXT_KEYS: Final = re.compile(
    rf"[\"'](?P<name>{_FIELDS})[\"']\s*:|(?<![\w.])(?P<kw>{_FIELDS})=(?!=)"
)
# How a key is written, per kind of file: a dict/object key or a keyword argument
# (Python, and "key=value" log fields), a JS object key,
# a YAML mapping key, a TOML/.env assignment.
_KEY_RES: Final[dict[FileKind, re.Pattern[str]]] = {
    "python": _TEXT_KEYS,
    "js": re.compile(rf"(?<![\w.])[\"'`]?(?P<name>{_FIELDS})[\"'`]?\s*:(?!:)"),
    "json": re.compile(rf"\"(?P<name>{_FIELDS})\"\s*:"),
    "yaml": re.compile(rf"^\s*(?:-\s+)?[\"']?(?P<name>{_FIELDS})[\"']?\s*:"),
    "toml": re.compile(rf"^\s*[\"']?(?P<name>{_FIELDS})[\"']?\s*="),
    "env": re.compile(rf"^\s*(?:export\s+)?(?P<name>{_FIELDS})="),
    "text": _TEXT_KEYS,
    "markup": _TEXT_KEYS,
}
_SUBSCRIPT_RE: Final = re.compile(
    r"[\"'](?P<head>session|response)[\"']\]\s*\[\s*[\"'](?P<name>\w+)[\"']\]"
)
LOG_KINDS: Final[frozenset[FileKind]] = frozenset({"json", "text"})


def _found(
    pattern: re.Pattern[str], text: str, gates: tuple[str, ...], gated: str | None = None
) -> Iterator[re.Match[str]]:
    """``pattern``'s matches in ``text``, searched only if a gate string is in ``gated``
    (``text`` itself, or its lower-case copy for a case-blind pattern).

    Most lines of a log or recording hold no beta name at all; a substring test
    (C speed) spares them the regular expressions.
    """
    if any(gate in (text if gated is None else gated) for gate in gates):
        yield from pattern.finditer(text)


_EVENT_GATES: Final = (*_FAMILIES, *_ALL_EVENTS)
_FORMAT_GATES: Final = tuple(BETA_AUDIO_FORMATS)
_FIELD_GATES: Final = tuple(UNAMBIGUOUS_FIELDS)


def line_hits(text: str, kind: FileKind) -> Iterator[Hit]:
    """Every beta usage a line shows by itself (structure aside)."""
    lowered = text.lower()
    yield from _pattern_hits(text, lowered)
    for match in _found(_FORMAT_RE, text, _FORMAT_GATES, lowered):
        value = match.group("value")
        yield Hit(
            match.start("value"),
            "beta-audio-format",
            value,
            f"'{value}' is the beta audio format string",
            f"the format object {BETA_AUDIO_FORMATS[value]} in session.audio.input/output.format",
        )
    for match in _found(_KEY_RES[kind], text, _FIELD_GATES):
        group = "name" if match.group("name") else "kw"
        yield field_hit(match.start(group), "session", match.group(group))
    for match in _found(_SUBSCRIPT_RE, text, ('"]', "']")):
        name = match.group("name")
        if name in BETA_SESSION_FIELDS:
            yield field_hit(match.start("name"), match.group("head"), name)
    if kind in LOG_KINDS and "close" in lowered:
        yield from _close_code_hits(text)


def _pattern_hits(text: str, lowered: str) -> Iterator[Hit]:
    for match in _found(_EVENT_RE, text, _EVENT_GATES):
        yield _event_hit(match.start(), match.group())
    for match in _found(_HEADER_RE, text, (BETA_HEADER_VALUE,), lowered):
        yield Hit(
            match.start(),
            "beta-header",
            f"OpenAI-Beta: {BETA_HEADER_VALUE}",
            "the beta header asks for the retired beta protocol",
            "remove the header: GA needs none (then use GA event names and the nested session)",
        )
    for match in _found(_SUBPROTOCOL_RE, text, (BETA_SUBPROTOCOL,), lowered):
        yield Hit(
            match.start(),
            "beta-header",
            match.group(),
            "the beta browser subprotocol (the header's stand-in)",
            "offer only 'realtime' and 'openai-insecure-api-key.<ek_ secret>'",
        )
    for match in _found(_ENDPOINT_RE, text, ("sessions",)):
        path = match.group()
        full = path if path.startswith("/v1") else "/v1" + path
        yield Hit(match.start(), "beta-endpoint", path, "a beta endpoint", BETA_ENDPOINTS[full])
    for match in _found(_SDK_RE, text, (BETA_SDK_NAMESPACE[0],)):
        yield Hit(
            match.start(),
            "beta-sdk",
            match.group(),
            "the official SDK's beta Realtime namespace",
            f"'{BETA_SDK_NAMESPACE[1]}' (client.realtime.connect, client.realtime.client_secrets)",
        )
    for match in _found(_MODEL_RE, text, tuple(BETA_MODEL_PREFIXES)):
        model = match.group()
        prefix = max((p for p in BETA_MODEL_PREFIXES if model.startswith(p)), key=len)
        yield Hit(
            match.start(),
            "beta-model",
            model,
            "a model served only on the retired beta interface",
            f"'{BETA_MODEL_PREFIXES[prefix]}'",
        )
    for match in _found(_CLOSE_REASON_RE, text, (BETA_CLOSE_REASON,)):
        yield _close_hit(match.start(), match.group())


def _close_code_hits(text: str) -> Iterator[Hit]:
    if _CLOSE_REASON_RE.search(text):
        return  # the reason on the line is the finding already
    for match in _CLOSE_CODE_RE.finditer(text):
        yield _close_hit(match.end() - len(str(BETA_CLOSE_CODE)), str(BETA_CLOSE_CODE))


def _close_hit(column: int, found: str) -> Hit:
    return Hit(
        column,
        "beta-close",
        found,
        f"close {BETA_CLOSE_CODE} {BETA_CLOSE_REASON}: a server refused a beta-shaped session",
        "migrate the client to the GA shapes; `rtagents doctor scan` on its code lists them",
    )


def _event_hit(column: int, name: str) -> Hit:
    if name in BETA_SERVER_EVENT_TYPES:
        replacement = BETA_SERVER_EVENT_TYPES[name]
    elif name in _ALL_EVENTS:
        replacement = _ALL_EVENTS[name]
    else:
        prefix = next(p for p in _FAMILIES if name.startswith(p))
        replacement = _FAMILIES[prefix] + name[len(prefix) :]
    what = (
        "a beta-era event name (GA servers no longer send it)"
        if name in BETA_LEGACY_EVENT_TYPES
        else "a beta event name"
    )
    return Hit(column, "beta-event", name, what, replacement)


def field_hit(column: int, head: str, name: str) -> Hit:
    """A flat beta field ``name`` written at the top level of a ``head`` object."""
    replacement = ga_replacement_for_field(f"{head}.{name}") or BETA_SESSION_FIELDS[name]
    return Hit(
        column,
        "beta-session-field",
        name,
        f"'{name}' is a flat beta field at the top level of the {head}",
        replacement,
    )
