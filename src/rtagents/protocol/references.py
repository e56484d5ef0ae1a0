"""``item_reference`` entries in ``response.create``'s ``input``, which the models lack.

The GA API accepts ``{"type": "item_reference", "id": "item_…"}`` among a
response's custom ``input`` items (reuse a conversation item without copying
it), but the ``openai`` models have no such item type, so validating against
them alone would refuse a valid event. Here each reference is checked on its
own and stood in for by a placeholder item, so the rest of the event is
validated as usual and errors keep their indices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .errors import LocalProtocolError

ITEM_REFERENCE: Final = "item_reference"
_PLACEHOLDER: Final = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": ""}],
}


def is_reference(entry: object) -> bool:
    return isinstance(entry, Mapping) and entry.get("type") == ITEM_REFERENCE


def stand_in_for_references(data: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[int]]:
    """``data`` with each ``response.input`` reference replaced, and their indices.

    An event without references comes back unchanged with no indices. A
    malformed reference raises :class:`LocalProtocolError` naming its field.
    """
    response = data.get("response") if data.get("type") == "response.create" else None
    entries = response.get("input") if isinstance(response, Mapping) else None
    if not isinstance(entries, list) or not any(is_reference(e) for e in entries):
        return data, []
    assert isinstance(response, Mapping)
    indices = [index for index, entry in enumerate(entries) if is_reference(entry)]
    for index in indices:
        _check(entries[index], index, data.get("event_id"))
    replaced = [_PLACEHOLDER if index in indices else e for index, e in enumerate(entries)]
    return {**data, "response": {**response, "input": replaced}}, indices


def _check(entry: Mapping[str, Any], index: int, event_id: object) -> None:
    where = f"response.input[{index}]"
    shown_id = event_id if isinstance(event_id, str) else None
    item_id = entry.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise LocalProtocolError(
            f"Missing required parameter '{where}.id': an item_reference names the "
            "conversation item to reuse by its id.",
            code="missing_required_parameter",
            param=f"{where}.id",
            event_id=shown_id,
        )
    extra = sorted(set(entry) - {"type", "id", "object"})
    if extra:
        raise LocalProtocolError(
            f"Unknown parameter '{where}.{extra[0]}': an item_reference has only "
            "'type', 'id' and 'object'.",
            code="unknown_parameter",
            param=f"{where}.{extra[0]}",
            event_id=shown_id,
        )
