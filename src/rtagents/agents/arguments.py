"""Reading what the model sends a tool or handoff, and the flags an app sets as bool or callable.

The model's arguments are validated against a pydantic model (or any type
pydantic describes) before anything runs: bad arguments become a
:class:`~rtagents.protocol.errors.ToolError` naming the field, which the
session sends back to the model as the call's output.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..protocol.errors import Origin, ToolError
from ..protocol.json_depth import parse_untrusted


def parse_arguments(model: type[BaseModel], arguments: str, tool: str) -> BaseModel:
    """The model's arguments validated, or a ToolError that names what is wrong."""
    try:
        raw = parse_untrusted(arguments or "{}")
    except ValueError as exc:
        raise _bad(tool, f"arguments are not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise _bad(tool, f"arguments must be a JSON object, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise _bad(tool, f"invalid arguments for {tool!r}: {problems}") from None


def parse_input(input_type: type[Any], arguments: str, tool: str) -> Any:
    """The model's input as ``input_type`` (any type pydantic validates: a model, a
    dataclass, a TypedDict), or a ToolError naming what is wrong."""
    if inspect.isclass(input_type) and issubclass(input_type, BaseModel):
        return parse_arguments(input_type, arguments, tool)
    try:
        return TypeAdapter(input_type).validate_json(arguments or "{}")
    except ValidationError as exc:
        raise _bad(tool, f"invalid input for {tool!r}: {exc.errors()[0]['msg']}") from None


def _bad(tool: str, message: str) -> ToolError:
    return ToolError(message, origin=Origin.REMOTE, code="invalid_arguments", param=tool)


async def resolve_flag(flag: bool | Callable[..., Any], *args: Any) -> bool:
    """A bool, or a sync/async callable of ``args`` returning one."""
    if not callable(flag):
        return bool(flag)
    result = flag(*args)
    if inspect.isawaitable(result):
        result = await result
    return bool(result)
