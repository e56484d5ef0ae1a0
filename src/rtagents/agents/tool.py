"""Function tools: a Python function the model may call, with its JSON schema made for it.

The schema comes from the type hints (through pydantic) and the docstring
(summary as the description, ``Args:`` entries as parameter descriptions),
so the function is the single source of truth. The model's arguments are
validated against the same pydantic model before the function runs: bad
arguments become a :class:`~rtagents.protocol.errors.ToolError` naming the
field, which the session sends back to the model as the tool's output.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from ..protocol.errors import Origin, ToolError
from .context import RunContext, ToolContext
from .docstrings import read_docstring

if TYPE_CHECKING:
    from .agent import Agent

ApprovalCheck: TypeAlias = Callable[
    [RunContext[Any], dict[str, Any], str], "bool | Awaitable[bool]"
]
"""``needs_approval`` as a callable: (context, parsed arguments, call_id) -> bool."""
EnabledCheck: TypeAlias = Callable[[RunContext[Any], "Agent[Any]"], "bool | Awaitable[bool]"]
"""``is_enabled`` as a callable: (context, agent) -> bool."""
Invoker: TypeAlias = Callable[[ToolContext[Any], str], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class FunctionTool:
    """A tool as the model sees it (name, description, schema) and how to run it.

    ``on_invoke_tool(ctx, arguments_json)`` runs it; ``timeout_seconds`` bounds
    it (None: the session's default); ``needs_approval`` pauses the call until
    the app approves or rejects it; ``is_enabled`` hides it from the model.
    """

    name: str
    description: str
    params_json_schema: dict[str, Any]
    on_invoke_tool: Invoker
    timeout_seconds: float | None = None
    needs_approval: bool | ApprovalCheck = False
    is_enabled: bool | EnabledCheck = True
    cancel_on_barge_in: bool = True
    """A barge-in cancels the call (its output then says so); approvals keep waiting."""

    def definition(self) -> dict[str, Any]:
        """The entry of ``session.tools``."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.params_json_schema,
        }


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


def parse_arguments(model: type[BaseModel], arguments: str, tool: str) -> BaseModel:
    """The model's arguments validated, or a ToolError that names what is wrong."""
    try:
        raw = json.loads(arguments or "{}")
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


def _bad(tool: str, message: str) -> ToolError:
    return ToolError(message, origin=Origin.REMOTE, code="invalid_arguments", param=tool)


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


async def resolve_flag(flag: bool | Callable[..., Any], *args: Any) -> bool:
    """A bool, or a sync/async callable of ``args`` returning one."""
    if not callable(flag):
        return bool(flag)
    result = flag(*args)
    if inspect.isawaitable(result):
        result = await result
    return bool(result)
