"""The two inputs of the conformance matrix: the GA vocabulary and the tests' markers.

The rows come from the installed ``openai`` package's GA realtime types
(``openai.types.realtime``), never from a hand-typed list, so a new event or
session field shows up as an unproven row the day the package adds it. The
proof comes from ``@pytest.mark.conformance`` markers, read from the test
files with ``ast`` (nothing is imported): the matrix then depends on the
source alone, not on which optional extras or Node happen to be installed
where it is generated, and a typo in a marker fails with its file and line.
"""

from __future__ import annotations

import ast
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

STATUSES = ("supported", "no-effect", "refused")
CLIENTS = ("openai", "openai-agents", "agents-realtime", "rtagents", "raw", "none")
OFFICIAL_CLIENTS = ("openai", "openai-agents", "agents-realtime")
TRANSPORTS = ("websocket", "webrtc", "in-process")
CATEGORIES = ("client event", "server event", "session field")
MARKER = "conformance"


class MarkerError(ValueError):
    """A conformance marker the matrix cannot use (says where and why)."""


@dataclass(frozen=True, slots=True)
class Row:
    """One thing the GA protocol defines: an event type or a session field path."""

    category: str
    key: str
    sessions: tuple[str, ...] = ()  # session fields: which session types have it


@dataclass(frozen=True, slots=True)
class Proof:
    """One marker on one test: what it shows about one or more rows."""

    test: str  # tests/…/test_x.py::test_name (or Class::test_name)
    keys: tuple[str, ...]
    status: str
    client: str
    transport: str
    note: str


# --- rows from the openai package -------------------------------------------------


def ga_rows() -> list[Row]:
    """Every GA client event, server event and session field, sorted within each category."""
    from openai.types import realtime

    rows = [Row("client event", t) for t in sorted(_event_types(realtime.RealtimeClientEvent))]
    rows += [Row("server event", t) for t in sorted(_event_types(realtime.RealtimeServerEvent))]
    sessions: dict[str, list[str]] = {}
    for kind, model in (
        ("realtime", realtime.RealtimeSessionCreateRequest),
        ("transcription", realtime.RealtimeTranscriptionSessionCreateRequest),
    ):
        for path in _field_paths(model, ""):
            sessions.setdefault(path, []).append(kind)
    rows += [Row("session field", p, tuple(k)) for p, k in sorted(sessions.items())]
    return rows


def _event_types(union: Any) -> list[str]:
    tags = {model: _literal_tag(model) for model in _models(union)}
    untagged = [model.__name__ for model, tag in tags.items() if tag is None]
    if untagged:  # the openai package changed shape: say so rather than guess a name
        raise RuntimeError(f"event models without one literal type: {untagged}")
    return [tag for tag in tags.values() if tag is not None]


def _field_paths(model: type[BaseModel], prefix: str, tagged: bool = False) -> Iterator[str]:
    """Leaf paths of a session model; union variants tagged ``[type]``, closed values ``=v``.

    A plain nested object (``audio``, ``audio.input``) is only structure, so
    only its fields become rows; a tagged variant (``tools[mcp]``) and a closed
    choice (``truncation=auto``) are behaviour, so they are rows themselves.
    A variant's own ``type`` is already its tag.
    """
    for name, field in model.model_fields.items():
        if tagged and name == "type":
            continue
        path = f"{prefix}{name}"
        models = _models(field.annotation)
        plain = _plain_values(field.annotation)
        variants = len(models) > 1 or bool(models and (plain or _is_list(field.annotation)))
        for variant in models:
            tag = _literal_tag(variant) if variants else None
            if tag is not None:
                yield f"{path}[{tag}]"
                yield from _field_paths(variant, f"{path}[{tag}].", tagged=True)
            else:
                yield from _field_paths(variant, f"{path}.")
        values = _closed_values(field.annotation)
        yield from (f"{path}={value}" for value in values)
        if [leaf for leaf in plain if typing.get_origin(leaf) is not typing.Literal]:
            yield path


def _flatten(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [leaf for arg in typing.get_args(annotation) for leaf in _flatten(arg)]
    if origin is list:
        return _flatten(typing.get_args(annotation)[0])
    return [annotation]


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return origin is list


def _plain_values(annotation: Any) -> list[Any]:
    """What a field may hold besides objects and null: scalars, lists of them, literals."""
    return [a for a in _flatten(annotation) if a is not type(None) and a not in _models(a)]


def _models(annotation: Any) -> list[type[BaseModel]]:
    return [a for a in _flatten(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]


def _closed_values(annotation: Any) -> list[str]:
    """The values of a closed choice; none when any string (or model) is allowed too."""
    leaves = [a for a in _flatten(annotation) if a is not type(None)]
    literals = [a for a in leaves if typing.get_origin(a) is typing.Literal]
    if not literals or str in leaves:
        return []
    return [str(v) for lit in literals for v in typing.get_args(lit)]


def _literal_tag(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("type")
    if field is None:
        return None
    values = _closed_values(field.annotation)
    return values[0] if len(values) == 1 else None


# --- proofs from the tests ----------------------------------------------------------


def read_proofs(tests_dir: Path, root: Path) -> list[Proof]:
    """Every conformance marker under ``tests_dir``, in file and line order."""
    proofs: list[Proof] = []
    for path in sorted(tests_dir.rglob("test_*.py")):
        if "node_modules" in path.parts:
            continue
        proofs += _file_proofs(path, path.relative_to(root).as_posix())
    return proofs


def _file_proofs(path: Path, name: str) -> list[Proof]:
    source = path.read_text(encoding="utf-8")
    if MARKER not in source:
        return []
    tree = ast.parse(source, filename=name)
    module_marks = [
        mark
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
        for mark in _marks_in(node.value)
    ]
    constants = _literal_constants(tree.body)
    proofs: list[Proof] = []
    for test_id, decorators in _tests(tree.body, ""):
        for mark in module_marks + [m for d in decorators for m in _marks_in(d)]:
            where = f"{name}:{mark.lineno}"
            proofs.append(_proof(mark, f"{name}::{test_id}", where, constants))
    return proofs


def _literal_constants(body: list[ast.stmt]) -> dict[str, Any]:
    """Module-level ``NAME = <literal>`` values, so a marker may say ``*SERVER_EVENTS``."""
    constants: dict[str, Any] = {}
    for node in body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    constants[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return constants


def _keys(args: list[ast.expr], constants: dict[str, Any]) -> tuple[Any, ...]:
    """The marker's positional keys; ``*NAME`` of a module-level literal tuple is spread."""
    keys: list[Any] = []
    for arg in args:
        if isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Name):
            if arg.value.id not in constants:
                raise ValueError(arg.value.id)
            keys += list(constants[arg.value.id])
        else:
            keys.append(ast.literal_eval(arg))
    return tuple(keys)


def _tests(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, list[ast.expr]]]:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            yield f"{prefix}{node.name}", node.decorator_list
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for test_id, decorators in _tests(node.body, f"{prefix}{node.name}::"):
                yield test_id, node.decorator_list + decorators


def _marks_in(node: ast.expr) -> list[ast.Call]:
    """``pytest.mark.conformance(...)`` calls in a decorator or a ``pytestmark`` value."""
    if isinstance(node, ast.List | ast.Tuple):
        return [m for element in node.elts for m in _marks_in(element)]
    if isinstance(node, ast.Call) and ast.unparse(node.func) in (
        f"pytest.mark.{MARKER}",
        f"mark.{MARKER}",
    ):
        return [node]
    return []


def _proof(call: ast.Call, test: str, where: str, constants: dict[str, Any]) -> Proof:
    try:
        keys = _keys(call.args, constants)
        options = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except ValueError:
        raise MarkerError(
            f"{where}: conformance marker arguments must be literals "
            "(or *NAME of a module-level literal tuple)"
        ) from None
    unknown = set(options) - {"status", "client", "transport", "note"}
    if unknown:
        raise MarkerError(f"{where}: unknown conformance option(s) {sorted(map(str, unknown))}")
    if not keys or not all(isinstance(k, str) for k in keys):
        raise MarkerError(f"{where}: name at least one event type or session field (strings)")
    for option, allowed in (("status", STATUSES), ("client", CLIENTS), ("transport", TRANSPORTS)):
        if options.get(option) not in allowed:
            raise MarkerError(f"{where}: {option}= must be one of {list(allowed)}")
    note = options.get("note", "")
    if not isinstance(note, str):
        raise MarkerError(f"{where}: note= must be a string")
    return Proof(test, keys, options["status"], options["client"], options["transport"], note)
