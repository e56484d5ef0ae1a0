"""Field paths and messages for events that fail validation.

The wire ``error`` event has a ``param`` field naming the offending field
(``session.audio.input.format.rate``). Pydantic reports locations as tuples
that start with the union tag; this module turns them into that dotted form and
writes messages that say which field, why, and what to do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from .beta import BETA_AUDIO_FORMATS, ga_replacement_for_field
from .client_text import one_line, quoted
from .errors import ProtocolError, RemoteProtocolError

# Characters of a parameter path an error quotes (a client may name a field anything).
PARAM_CHARS = 200

_CODES = {
    "missing": "missing_required_parameter",
    "extra_forbidden": "unknown_parameter",
    "literal_error": "invalid_value",
    "enum": "invalid_value",
}


def first_error(exc: ValidationError) -> Mapping[str, Any]:
    """The error a human meant, out of pydantic's per-union-branch list.

    For a nested union (user vs system message, realtime vs transcription
    session) pydantic reports every branch. The branch whose discriminating
    literals (``type``, ``role``) matched is the one the peer intended; within
    it a wrong value beats a bare type mismatch.
    """
    errors = exc.errors(include_url=False)
    mismatched = _mismatched_branches(errors)
    best = min(
        range(len(errors)),
        key=lambda i: (_branch_penalty(errors[i], mismatched), _rank(errors[i]), i),
    )
    return errors[best]


_DISCRIMINATORS = ("type", "role")


def _mismatched_branches(errors: Sequence[Mapping[str, Any]]) -> Counter[tuple[Any, ...]]:
    bad: Counter[tuple[Any, ...]] = Counter()
    for err in errors:
        loc = err["loc"]
        if (
            err["type"] == "literal_error"
            and len(loc) >= 2
            and loc[-1] in _DISCRIMINATORS
            and isinstance(loc[-2], str)
            and _is_union_branch_label(loc[-2])
        ):
            bad[tuple(loc[:-1])] += 1
    return bad


def _branch_penalty(err: Mapping[str, Any], bad: Counter[tuple[Any, ...]]) -> int:
    loc = err["loc"]
    return sum(
        bad[tuple(loc[: i + 1])]
        for i, part in enumerate(loc)
        if isinstance(part, str) and _is_union_branch_label(part)
    )


def _rank(err: Mapping[str, Any]) -> int:
    """Lower is more useful: a wrong value beats a bare type mismatch."""
    if err["type"] in ("model_type", "dict_type", "model_attributes_type"):
        return 1
    return 0


def format_path(loc: Sequence[int | str], *, skip_tag: bool) -> str:
    """``('session.update', 'session', 'tools', 0, 'name')`` -> ``session.tools[0].name``."""
    parts = list(loc[1:] if skip_tag and loc else loc)
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _is_union_branch_label(part):
            continue
        else:
            out += f".{part}" if out else part
    return out


def _is_union_branch_label(part: str) -> bool:
    # Pydantic labels the branch of a nested union with its class name or a
    # "literal[...]"/"function-..." tag; those are not fields a user can set.
    return part[:1].isupper() or part.startswith(("literal[", "function-", "tagged-union["))


def describe_validation_error(
    error: Mapping[str, Any], etype: str | None
) -> tuple[str, str | None, str]:
    """(code, param, message) for one pydantic error of a known event type."""
    # A path may hold a key the client chose: quoted escaped and bounded.
    path = format_path(error["loc"], skip_tag=True)
    param = one_line(path, PARAM_CHARS) if path else None
    kind = error["type"]
    code = _CODES.get(kind) or ("invalid_type" if kind.endswith("_type") else "invalid_value")
    where = quoted(path, PARAM_CHARS) if path else "the event"
    if kind == "missing":
        message = f"Missing required parameter {where} in '{etype}'. Add it and resend."
    else:
        got = error.get("input")
        message = f"Invalid value for {where} in '{etype}': {error['msg']}"
        hint = _beta_format_hint(got)
        message += f" (got {_short(got)}). {hint or 'Fix the field and resend.'}"
    return code, param, message


def _beta_format_hint(value: Any) -> str | None:
    if isinstance(value, str) and value in BETA_AUDIO_FORMATS:
        return f"'{value}' is the retired beta spelling; in GA write {BETA_AUDIO_FORMATS[value]}."
    return None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unknown_field_paths(model: BaseModel) -> list[str]:
    """Dotted paths of every field the peer sent that the GA schema lacks.

    The ``openai`` models accept extra fields (``extra="allow"``) so that the
    SDK survives schema growth; a GA *server* must instead reject them, and
    this walk finds them without a second, stricter model hierarchy.
    """
    return list(_walk_extras(model, ""))


def _walk_extras(value: Any, prefix: str) -> Iterator[str]:
    # Only models and sequences can hold extras: leaves (strings, numbers) are not
    # walked into, which matters on the hot path (every append is walked).
    if isinstance(value, BaseModel):
        for name in value.__pydantic_extra__ or {}:
            yield f"{prefix}.{name}" if prefix else name
        for name in type(value).model_fields:
            child = getattr(value, name)
            if isinstance(child, _CONTAINERS):
                yield from _walk_extras(child, f"{prefix}.{name}" if prefix else name)
    else:
        for index, item in enumerate(value):
            if isinstance(item, _CONTAINERS):
                yield from _walk_extras(item, f"{prefix}[{index}]")


_CONTAINERS = (BaseModel, list, tuple)


def unknown_field_error(path: str, *, event_id: str | None) -> ProtocolError:
    """The error for a field the GA schema does not have, beta hints included."""
    replacement = ga_replacement_for_field(path)
    # The path ends in a field name the client chose: quoted escaped and bounded.
    shown = quoted(path, PARAM_CHARS)
    if replacement is not None:
        message = (
            f"Unknown parameter {shown}: it is a beta field; the GA protocol uses {replacement}."
        )
    else:
        message = f"Unknown parameter {shown}. Remove it; see the GA Realtime schema."
    param = one_line(path, PARAM_CHARS)
    return RemoteProtocolError(message, code="unknown_parameter", param=param, event_id=event_id)
