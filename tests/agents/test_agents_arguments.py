"""Reading the model's arguments (a ToolError naming the field) and bool-or-callable flags."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import BaseModel

from rtagents.agents.arguments import parse_arguments, parse_input, resolve_flag
from rtagents.protocol.errors import Origin, ToolError


class Order(BaseModel):
    order_id: str
    quantity: int = 1


@dataclass
class Level:
    level: int


def test_arguments_are_validated_and_a_mistake_names_the_field() -> None:
    parsed = parse_arguments(Order, '{"order_id": "A1"}', "lookup")
    assert isinstance(parsed, Order) and parsed.order_id == "A1" and parsed.quantity == 1
    with pytest.raises(ToolError) as bad:
        parse_arguments(Order, '{"quantity": "many"}', "lookup")
    message = bad.value.message
    assert "order_id: Field required" in message and "quantity:" in message
    assert bad.value.code == "invalid_arguments" and bad.value.param == "lookup"
    assert bad.value.origin is Origin.REMOTE  # the model's mistake, sent back to it


@pytest.mark.parametrize(
    ("arguments", "why"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object, got list"),
        ('{"a": ' + "[" * 5000 + "]" * 5000 + "}", "nested deeper than 201 levels"),
    ],
)
def test_arguments_that_are_not_a_json_object_are_refused(arguments: str, why: str) -> None:
    with pytest.raises(ToolError, match=why):
        parse_arguments(Order, arguments, "lookup")


def test_an_input_of_any_type_pydantic_validates() -> None:
    assert parse_input(Level, '{"level": 2}', "escalate") == Level(level=2)
    assert parse_input(Order, '{"order_id": "B2"}', "escalate") == Order(order_id="B2")
    with pytest.raises(ToolError, match="invalid input for 'escalate'") as bad:
        parse_input(Level, '{"level": "high"}', "escalate")
    assert bad.value.code == "invalid_arguments" and bad.value.param == "escalate"


async def test_a_flag_is_a_bool_or_a_sync_or_async_callable() -> None:
    async def later(value: int) -> bool:
        return value > 1

    assert await resolve_flag(True) and not await resolve_flag(False)
    assert await resolve_flag(lambda value: value == 1, 1)
    assert await resolve_flag(later, 2) and not await resolve_flag(later, 1)
