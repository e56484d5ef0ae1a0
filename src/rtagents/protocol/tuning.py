"""Make pydantic dispatch nested model unions by tag instead of by trial.

The ``openai`` models declare unions such as ``AudioPCM | AudioPCMU | AudioPCMA``
or ``RealtimeFunctionTool | Mcp`` without a pydantic discriminator, so pydantic
validates the input against each member in turn (twice: strict, then lax). A
``session.updated`` carrying six tools spent most of its decode time there.

Every member of those unions is a model with a literal ``type`` field (message
items also differ by ``role``), so the member is known from the input alone.
:func:`tag_nested_unions` rewrites the core schema, turning each such union
into a ``tagged-union`` with a small discriminator function. The result
validates to the very same ``openai`` classes; only the dispatch changes.
Unions it cannot prove unambiguous are left untouched.

The tuned schema is a *fast path*, not the judge: a plain string discriminator
rejects inputs the original union accepts (a function tool without its optional
``type``), so callers re-validate anything it rejects with the original schema,
whose verdict and error locations are authoritative.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

_DEREF_LIMIT = 8


def tag_nested_unions(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a pydantic core schema with unambiguous model unions tagged."""
    tuned: dict[str, Any] = copy.deepcopy(dict(schema))
    definitions = {d["ref"]: d for d in tuned.get("definitions", []) if "ref" in d}
    _rewrite(tuned, definitions)
    return tuned


def _rewrite(node: Any, definitions: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        for index, child in enumerate(node):
            node[index] = _rewrite(child, definitions)
        return node
    if not isinstance(node, dict):
        return node
    for key, child in node.items():
        if key != "cls":
            node[key] = _rewrite(child, definitions)
    if node.get("type") == "union":
        return _tagged(node, definitions) or node
    return node


def _tagged(union: dict[str, Any], definitions: Mapping[str, Any]) -> dict[str, Any] | None:
    keys: dict[str, Any] = {}
    defaults: list[str] = []
    role_types: set[str] = set()
    members = []
    for choice in union["choices"]:
        schema = choice[0] if isinstance(choice, tuple | list) else choice
        shape = _member_shape(schema, definitions)
        if shape is None:
            return None
        members.append((schema, *shape))
    type_counts: dict[str, int] = {}
    for _, types, _, _ in members:
        for value in types:
            type_counts[value] = type_counts.get(value, 0) + 1
    for schema, types, roles, _required in members:
        for value in types:
            if type_counts[value] == 1:
                keys[value] = schema
                continue
            if not roles:
                return None  # same type, nothing else to tell them apart
            role_types.add(value)
            for role in roles:
                keys[f"{value}:{role}"] = schema
        if not _required:
            defaults.extend(types)
    if len(defaults) > 1 or len(keys) < 2:
        return None
    # A string discriminator lets pydantic read the tag straight from JSON; a
    # function discriminator would first turn the JSON into Python objects.
    discriminator: str | Callable[[Any], str | None] = (
        _discriminator(frozenset(role_types)) if role_types else "type"
    )
    tagged = {"type": "tagged-union", "choices": keys, "discriminator": discriminator}
    for extra in ("ref", "metadata", "serialization"):
        if extra in union:
            tagged[extra] = union[extra]
    return tagged


def _member_shape(
    schema: Mapping[str, Any], definitions: Mapping[str, Any]
) -> tuple[list[str], list[str], bool] | None:
    """(type literals, role literals, whether ``type`` is required) of a model member."""
    for _ in range(_DEREF_LIMIT):
        if schema.get("type") != "definition-ref":
            break
        schema = definitions[schema["schema_ref"]]
    if schema.get("type") != "model" or schema["schema"].get("type") != "model-fields":
        return None
    fields = schema["schema"]["fields"]
    types = _literal_values(fields.get("type"))
    if not types:
        return None
    roles = _literal_values(fields.get("role")) or []
    return types, roles, fields["type"].get("required", True)


def _literal_values(field: Mapping[str, Any] | None) -> list[str] | None:
    if field is None:
        return None
    inner = field["schema"]
    while inner.get("type") in ("default", "nullable"):
        inner = inner["schema"]
    if inner.get("type") != "literal":
        return None
    values = inner["expected"]
    return values if all(isinstance(v, str) for v in values) else None


def _discriminator(role_types: frozenset[str]) -> Callable[[Any], str | None]:
    """Tag by ``type``, plus ``role`` for types several members share (messages)."""

    def tag(value: Any) -> str | None:
        if isinstance(value, dict):
            kind = value.get("type")
            return f"{kind}:{value.get('role')}" if kind in role_types else kind
        kind = getattr(value, "type", None)
        return f"{kind}:{getattr(value, 'role', None)}" if kind in role_types else kind

    return tag
