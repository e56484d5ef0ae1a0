"""Function tools: a Python function the model may call, with its JSON schema made for it.

The schema comes from the type hints (through pydantic) and the docstring
(summary as the description, ``Args:`` entries as parameter descriptions),
so the function is the single source of truth. The model's arguments are
validated against the same pydantic model before the function runs
(:func:`~.arguments.parse_arguments`). The :class:`~.agent.FunctionTool` it
makes is defined with the agent, which lists it.
"""

from __future__ import annotations

import asyncio
import inspect
import typing
from collections.abc import Callable
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, create_model

from .agent import ApprovalCheck, EnabledCheck, FunctionTool, Invoker, ToolContext
from .arguments import parse_arguments
from .context import RunContext
from .docstrings import read_docstring


@overload
def function_tool(fn: Callable[..., Any], /) -> FunctionTool: ...


@overload
def function_tool(
    fn: None = None,
    /,
    *,
    name_override: str | None = None,
    description_override: str | None = None,
    timeout: float | None = None,
    needs_approval: bool | ApprovalCheck = False,
    is_enabled: bool | EnabledCheck = True,
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def function_tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name_override: str | None = None,
    description_override: str | None = None,
    timeout: float | None = None,
    needs_approval: bool | ApprovalCheck = False,
    is_enabled: bool | EnabledCheck = True,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a :class:`FunctionTool` of ``fn`` (sync or async); usable as a decorator.

    A first parameter annotated :class:`RunContext` or :class:`ToolContext`
    receives the context and is not part of the schema.
    """

    def build(function: Callable[..., Any]) -> FunctionTool:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        name = name_override or function.__name__
        model, takes_context = _arguments_model(function, name)
        doc = read_docstring(function)
        return FunctionTool(
            name=name,
            description=description_override or doc.summary,
            params_json_schema=_clean_schema(model.model_json_schema()),
            on_invoke_tool=_invoker(function, model, takes_context),
            timeout_seconds=timeout,
            needs_approval=needs_approval,
            is_enabled=is_enabled,
        )

    return build if fn is None else build(fn)


def _is_context(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    return inspect.isclass(origin) and issubclass(origin, RunContext)


def _arguments_model(function: Callable[..., Any], name: str) -> tuple[type[BaseModel], bool]:
    signature = inspect.signature(function)
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        hints = {}
    doc = read_docstring(function)
    fields: dict[str, Any] = {}
    takes_context = False
    for index, parameter in enumerate(signature.parameters.values()):
        annotation = hints.get(parameter.name, parameter.annotation)
        if index == 0 and _is_context(annotation):
            takes_context = True
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TypeError(f"tool {name!r}: *args/**kwargs cannot be described to a model")
        if annotation is inspect.Parameter.empty:
            annotation = Any
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (
            annotation,
            Field(default, description=doc.arguments.get(parameter.name)),
        )
    model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return model, takes_context


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's titles (noise to a model); keep everything else."""
    if isinstance(schema, dict):
        return {k: _clean_schema(v) for k, v in schema.items() if k != "title" or _is_value(v)}
    if isinstance(schema, list):
        return [_clean_schema(v) for v in schema]
    return schema


def _is_value(value: Any) -> bool:
    """A "title" key that is a property *named* title (a dict), not pydantic's label."""
    return isinstance(value, dict)


def _invoker(function: Callable[..., Any], model: type[BaseModel], takes_context: bool) -> Invoker:
    name = function.__name__

    async def invoke(ctx: ToolContext[Any], arguments: str) -> Any:
        parsed = parse_arguments(model, arguments, ctx.tool_name or name)
        values = {key: getattr(parsed, key) for key in type(parsed).model_fields}
        args = (ctx,) if takes_context else ()
        if inspect.iscoroutinefunction(function):
            return await function(*args, **values)
        result = await asyncio.to_thread(function, *args, **values)
        return await result if inspect.isawaitable(result) else result

    return invoke
