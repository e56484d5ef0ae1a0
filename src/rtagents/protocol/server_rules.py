"""The protocol rules a Realtime server enforces, as one table: facts × event -> outcome.

A server asks :func:`decide` before it acts on a decoded client event; the
answer is :data:`~.server_facts.ACCEPT` or a :class:`~.server_facts.Refuse`
naming the GA error ``code``, ``param`` and message to send. The rules read
only a :class:`~.server_facts.Facts` snapshot and the event's
:class:`~.server_facts.Request`, never a socket or a clock, so whoever answers
the session (the local pipeline, a relay) shares them and tests need no
server. What the rules cannot see without the payload (base64 and sample
checks, a truncate's bounds, session settings' ranges) stays with the code
that reads it. ``docs/server_rules.md`` embeds :func:`mermaid_diagram` and
:func:`markdown_table`, generated from the same table.

Typical use::

    outcome = decide(facts, Request.from_event(event))
    if isinstance(outcome, Refuse):
        raise outcome.to_error(event.event_id)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from . import limit_refusals as limit
from . import server_refusals as check
from .server_facts import ACCEPT, Facts, Outcome, Refuse, Request, SessionFacts

__all__ = [
    "ACCEPT",
    "ANY_EVENT",
    "RULES",
    "Facts",
    "Outcome",
    "Refuse",
    "Request",
    "ServerRule",
    "SessionFacts",
    "decide",
    "markdown_table",
    "mermaid_diagram",
    "session_size_refusal",
]


@dataclass(frozen=True, slots=True)
class ServerRule:
    """One row: the condition in words, what a refusal carries, and the check itself."""

    when: str  # when the event is refused, as the docs say it
    code: str
    param: str | None  # as documented; the check's refusal may leave it out
    check: Callable[[SessionFacts, Request], Refuse | None]


ANY_EVENT: Final = (
    ServerRule("the session is closing", "session_closed", None, check.session_closing),
)

_ITEM_KNOWN: Final = (
    ServerRule("item_id is unknown", "item_not_found", "item_id", check.item_unknown),
)


def _sizes(part: str) -> tuple[ServerRule, ...]:
    """The size rules of a session's or a response's instructions and tools."""
    return (
        ServerRule(
            f"{part}.instructions is over the limit instructions_bytes",
            "instructions_too_large",
            f"{part}.instructions",
            limit.instructions_too_large,
        ),
        ServerRule(
            f"{part}.tools has more tools than the limit tools_count",
            "too_many_tools",
            f"{part}.tools",
            limit.too_many_tools,
        ),
        ServerRule(
            f"{part}.tools' JSON is over the limit tools_bytes",
            "tools_too_large",
            f"{part}.tools",
            limit.tools_too_large,
        ),
        ServerRule(
            f"{part}.tools nest the event deeper than the limit json_depth",
            "json_too_deep",
            f"{part}.tools",
            limit.tools_too_deep,
        ),
    )


SESSION_SIZES: Final = _sizes("session")


def _MEMORY(param: str) -> ServerRule:  # noqa: N802 - reads as a row of the table
    return ServerRule(
        "the session would hold more than the limit session_memory_bytes",
        "session_memory_exceeded",
        param,
        limit.memory_exceeded,
    )


def session_size_refusal(facts: SessionFacts, session: Mapping[str, Any]) -> Refuse | None:
    """The first size rule a whole session config breaks (a client secret's, at mint)."""
    request = Request(type="session.update", session=session)
    for rule in SESSION_SIZES:
        refusal = rule.check(facts, request)
        if refusal is not None:
            return refusal
    return None


RULES: Final[Mapping[str, tuple[ServerRule, ...]]] = MappingProxyType(
    {
        "session.update": (
            ServerRule(
                "it changes session.type", "invalid_value", "session.type", check.type_changed
            ),
            ServerRule(
                "it changes the model", "cannot_update_model", "session.model", check.model_changed
            ),
            ServerRule(
                "it changes the voice after audio was produced",
                "cannot_update_voice",
                "session.audio.output.voice",
                check.voice_fixed,
            ),
            ServerRule(
                "it turns on turn detection and the server has no VAD",
                "unsupported_turn_detection",
                "session.audio.input.turn_detection",
                check.no_vad_engine,
            ),
            *SESSION_SIZES,
        ),
        "input_audio_buffer.append": (
            ServerRule(
                "the audio is over the per-event limit",
                "input_audio_too_large",
                "audio",
                check.append_too_large,
            ),
            ServerRule(
                "the buffer would pass the limit input_buffer_bytes and turn detection is off",
                "input_audio_buffer_full",
                "audio",
                check.buffer_full,
            ),
            _MEMORY("audio"),
        ),
        "input_audio_buffer.commit": (
            ServerRule(
                "the buffer holds less than 100 ms",
                "input_audio_buffer_commit_empty",
                None,
                check.commit_too_short,
            ),
            ServerRule(
                "the conversation holds conversation_items items",
                "conversation_full",
                None,
                limit.conversation_full,
            ),
        ),
        "input_audio_buffer.clear": (),
        "output_audio_buffer.clear": (
            ServerRule(
                "the client plays the audio (WebSocket)",
                "unsupported_on_websocket",
                "type",
                check.client_plays_audio,
            ),
        ),
        "conversation.item.create": (
            ServerRule("item.id is 'root'", "invalid_value", "item.id", check.reserved_id),
            ServerRule("item.id is taken", "duplicate_item_id", "item.id", check.duplicate_id),
            ServerRule(
                "previous_item_id is unknown",
                "item_not_found",
                "previous_item_id",
                check.previous_unknown,
            ),
            ServerRule(
                "the conversation holds conversation_items items",
                "conversation_full",
                "item",
                limit.conversation_full,
            ),
            _MEMORY("item"),
        ),
        "conversation.item.retrieve": _ITEM_KNOWN,
        "conversation.item.truncate": _ITEM_KNOWN,
        "conversation.item.delete": _ITEM_KNOWN,
        "response.create": (
            ServerRule(
                "the session is a transcription session",
                "invalid_value",
                "type",
                check.transcription_only,
            ),
            ServerRule(
                "response.conversation is neither 'auto' nor 'none'",
                "invalid_value",
                "response.conversation",
                check.conversation_unknown,
            ),
            ServerRule(
                "a response is active and this one would join the conversation",
                "conversation_already_has_active_response",
                None,
                check.response_active,
            ),
            *_sizes("response"),
        ),
        "response.cancel": (
            ServerRule(
                "no running response matches",
                "response_cancel_not_active",
                "response_id",
                check.nothing_to_cancel,
            ),
        ),
    }
)


# Each event type's rules after the closing rule, joined once (decide runs for every event).
_IN_ORDER: Final[Mapping[str, tuple[ServerRule, ...]]] = MappingProxyType(
    {kind: (*ANY_EVENT, *rules) for kind, rules in RULES.items()}
)


def decide(facts: SessionFacts, request: Request) -> Outcome:
    """The first rule ``request`` breaks in ``facts``, as a :class:`Refuse`; else ACCEPT.

    Rules run in table order (the closing rule first), so one event gets one
    answer however many rules it breaks. Event types outside the table are
    the codec's business: only the closing rule applies to them.
    """
    for rule in _IN_ORDER.get(request.type, ANY_EVENT):
        refusal = rule.check(facts, request)
        if refusal is not None:
            return refusal
    return ACCEPT


def markdown_table() -> str:
    """Every rule as a markdown table, in the order :func:`decide` tries them."""
    lines = [
        "| event | refused when | code | param |",
        "| --- | --- | --- | --- |",
    ]
    rows = [("every event", rule) for rule in ANY_EVENT]
    rows += [(event, rule) for event, rules in RULES.items() for rule in rules]
    for event, rule in rows:
        param = f"`{rule.param}`" if rule.param else "-"
        lines.append(f"| `{event}` | {rule.when} | `{rule.code}` | {param} |")
    unruled = [event for event, rules in RULES.items() if not rules]
    lines.append("")
    lines.append("Accepted whenever the session is open: " + ", ".join(f"`{e}`" for e in unruled))
    return "\n".join(lines) + "\n"


def mermaid_diagram() -> str:
    """A mermaid flowchart: each event type, the conditions that refuse it, and the code."""
    lines = ["flowchart LR", '    event(["client event"]) --> closing{"session closing?"}']
    lines.append("    closing -- yes --> session_closed[/session_closed/]")
    codes = {rule.code for rules in RULES.values() for rule in rules}
    lines += [f"    {_node(code)}[/{code}/]" for code in sorted(codes)]
    for event, rules in RULES.items():
        node = _node(event)
        lines.append(f'    closing -- no --> {node}["{event}"]')
        for rule in rules:
            lines.append(f'    {node} -. "{rule.when}" .-> {_node(rule.code)}')
        lines.append(f"    {node} --> accepted([accepted])")
    return "\n".join(lines) + "\n"


def _node(name: str) -> str:
    return name.replace(".", "_")
