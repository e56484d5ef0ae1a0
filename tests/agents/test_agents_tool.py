"""``function_tool``: the schema a model sees, and arguments checked before the function runs."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import pytest
from pydantic import BaseModel

from rtagents.agents import RunContext, ToolContext, function_tool
from rtagents.agents.docstrings import read_docstring
from rtagents.protocol.errors import ToolError


class Address(BaseModel):
    street: str
    title: str = ""


def lookup(order_id: str, unit: Literal["c", "f"] = "c", address: Address | None = None) -> str:
    """Look an order up.

    Longer explanation that stays in the description.

    Args:
        order_id: The order's id,
            as printed on the receipt.
        unit (str): Temperature unit.
        address: Where it goes.

    Returns:
        A summary.
    """
    return f"{order_id}/{unit}/{address.street if address else '-'}"


def test_the_schema_comes_from_hints_and_the_docstring() -> None:
    tool = function_tool(lookup)
    assert tool.name == "lookup"
    assert tool.description.startswith("Look an order up.")
    assert "Longer explanation" in tool.description and "Returns" not in tool.description
    schema = tool.params_json_schema
    props = schema["properties"]
    assert props["order_id"] == {
        "type": "string",
        "description": "The order's id, as printed on the receipt.",
    }
    assert props["unit"]["enum"] == ["c", "f"] and props["unit"]["default"] == "c"
    assert schema["required"] == ["order_id"]
    assert schema["additionalProperties"] is False
    assert "title" in schema["$defs"]["Address"]["properties"]  # a field named title stays
    assert "title" not in schema and "title" not in props["order_id"]


async def test_arguments_are_validated_before_the_function_runs() -> None:
    tool = function_tool(lookup)
    ctx: ToolContext[None] = ToolContext(context=None, tool_name="lookup")
    result = await tool.on_invoke_tool(ctx, '{"order_id": "A1", "address": {"street": "Main"}}')
    assert result == "A1/c/Main"
    for bad, needle in [
        ('{"unit": "k"}', "order_id"),
        ('{"order_id": "A", "unit": "k"}', "unit"),
        ('{"order_id": "A", "extra": 1}', "extra"),
        ("not json", "not valid JSON"),
        ("[1]", "JSON object"),
    ]:
        with pytest.raises(ToolError, match=needle) as caught:
            await tool.on_invoke_tool(ctx, bad)
        assert caught.value.code == "invalid_arguments"


async def test_async_tools_context_and_overrides() -> None:
    @function_tool(name_override="greet", description_override="Says hi.", timeout=2)
    async def hello(ctx: RunContext[str], name: str) -> str:
        await asyncio.sleep(0)
        return f"hi {name} from {ctx.context}"

    assert (hello.name, hello.description, hello.timeout_seconds) == ("greet", "Says hi.", 2)
    assert list(hello.params_json_schema["properties"]) == ["name"]
    ctx: ToolContext[str] = ToolContext(context="Bo", tool_name="greet")
    assert await hello.on_invoke_tool(ctx, json.dumps({"name": "Al"})) == "hi Al from Bo"
    assert hello.definition()["type"] == "function"


def test_tools_that_cannot_be_described_are_refused() -> None:
    def spread(*values: int) -> None:
        """Variadic."""

    with pytest.raises(TypeError, match="args"):
        function_tool(spread)
    with pytest.raises(ValueError, match="timeout"):
        function_tool(timeout=0)(lookup)


def test_docstrings_without_sections_keep_everything_as_summary() -> None:
    def plain() -> None:
        """Just one paragraph.

        And another."""

    doc = read_docstring(plain)
    assert doc.summary == "Just one paragraph.\n\nAnd another." and doc.arguments == {}
