"""``rtagents serve``'s gateway policy settings: one per :class:`Policy` field, and ``--policy``.

Like the limits (``limit_settings.py``) the settings are generated from the
table itself, so a new policy field becomes a flag (``--policy-allowed-models``),
a variable (``RTAGENTS_POLICY_ALLOWED_MODELS``) and a key of the policy file
(``allowed_models``) with no second list; ``--help`` shows the comment written
above the field. ``--policy FILE`` (or ``RTAGENTS_POLICY``) names a TOML or
JSON file (by its ``.json`` suffix) of those keys; precedence is flag >
variable > file > default. A policy that cannot work (an unknown key, a
forced field the GA schema refuses, a default model the policy forbids) stops
the server before it starts, with a one-line message naming the setting.
"""

from __future__ import annotations

import argparse
import contextvars
import dataclasses
import json
import os
import tomllib
import typing
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, create_model, field_validator
from pydantic_settings import (
    BaseSettings,
    JsonConfigSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ..server.host.limits import Limits
from ..server.policy import table as table_module
from ..server.policy.table import Policy
from .failures import CliError, readable_file
from .field_comments import field_comments

FLAG_PREFIX = "policy_"
ENV_PREFIX = "RTAGENTS_POLICY_"
FILE_ENV = "RTAGENTS_POLICY"
_LISTS = ("allowed_models", "allowed_tool_types", "allowed_functions")
TOOL_TYPES = ("function", "mcp")
_policy_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "rtagents_policy_file", default=None
)


def policy_comments() -> dict[str, str]:
    """Each field's comment in table.py (the lines just above it), as one line."""
    return field_comments(table_module, Policy.__name__)


def _fields() -> dict[str, Any]:
    comments = policy_comments()
    hints = typing.get_type_hints(Policy)
    fields: dict[str, Any] = {}
    for item in dataclasses.fields(Policy):
        about = comments.get(item.name) or item.name.replace("_", " ")
        description = f"policy: {about.rstrip('.')} (docs/relay.md#gateway-policy)"
        if item.name in _LISTS:
            annotation: Any = typing.Annotated[list[str] | None, NoDecode]
            fields[item.name] = (annotation, Field(None, description=description))
        elif item.name == "forced_fields":
            fields[item.name] = (
                dict[str, Any],
                Field(default_factory=dict, description=description),
            )
        else:
            kind = hints[item.name]
            default: Any = item.default
            if item.name == "quota_window_s":
                fields[item.name] = (kind, Field(default, description=description, gt=0))
            elif kind in (int, float):
                fields[item.name] = (kind, Field(default, description=description, ge=0))
            else:
                fields[item.name] = (kind, Field(default, description=description))
    return fields


class _PolicySources(BaseSettings):
    """Flags, then ``RTAGENTS_POLICY_*`` variables, then the ``--policy`` file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, frozen=True
    )

    @field_validator(*_LISTS, mode="before", check_fields=False)
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):  # a flag or variable: comma-separated ("" allows none)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("forced_fields", mode="before", check_fields=False)
    @classmethod
    def _json_object(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not JSON ({exc}); give a GA session object") from None
        if not isinstance(value, dict):
            raise ValueError(
                'must be a JSON object of session fields, e.g. {"max_output_tokens": 512}'
            )
        return value

    @field_validator("allowed_tool_types", check_fields=False)
    @classmethod
    def _known_types(cls, value: list[str] | None) -> list[str] | None:
        for kind in value or ():
            if kind not in TOOL_TYPES:
                raise ValueError(f"unknown tool type {kind!r}; the GA tool types are function, mcp")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _policy_file.get()
        if path is None:
            return init_settings, env_settings
        if path.suffix.lower() == ".json":
            return init_settings, env_settings, JsonConfigSettingsSource(settings_cls, path)
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, path)


if typing.TYPE_CHECKING:
    PolicySettings = _PolicySources
else:
    PolicySettings = create_model("PolicySettings", __base__=_PolicySources, **_fields())


def add_policy_flags(parser: argparse.ArgumentParser) -> None:
    """``--policy FILE`` and one ``--policy-*`` flag per policy field."""
    parser.add_argument(
        "--policy",
        metavar="FILE",
        default=argparse.SUPPRESS,
        dest="policy_file",
        help=f"gateway policy file, TOML (or JSON by a .json suffix), keys as the --policy-* "
        f"flags without the prefix (env {FILE_ENV}; docs/relay.md#gateway-policy)",
    )
    for name, field in PolicySettings.model_fields.items():
        default = "none" if field.default_factory is not None else field.default
        help_text = (
            f"{field.description} (default: {_unset(default)}; env {ENV_PREFIX}{name.upper()})"
        )
        parser.add_argument(
            "--" + (FLAG_PREFIX + name).replace("_", "-"),
            dest=FLAG_PREFIX + name,
            default=argparse.SUPPRESS,
            metavar=_metavar(name),
            help=help_text,
        )


def _unset(default: Any) -> str:
    return "unset" if default in (None, "") else str(default)


def _metavar(name: str) -> str:
    if name in _LISTS:
        return "NAME[,NAME]"
    if name == "forced_fields":
        return "JSON"
    if name.endswith("_bytes"):
        return "BYTES"
    return "SECONDS" if name.endswith("_s") else ("TEXT" if name.endswith("prefix") else "N")


def load_policy(args: argparse.Namespace) -> Policy:
    """The policy the flags, variables and ``--policy`` file name; else :class:`CliError`."""
    flags = {
        name: getattr(args, FLAG_PREFIX + name)
        for name in PolicySettings.model_fields
        if FLAG_PREFIX + name in args
    }
    path = readable_file(
        getattr(args, "policy_file", None) or os.environ.get(FILE_ENV), "policy file"
    )
    token = _policy_file.set(path)
    try:
        settings = PolicySettings(**flags)
    except ValidationError as exc:
        raise CliError(_describe(exc, flags, path)) from exc
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        kind = "JSON" if path is not None and path.suffix.lower() == ".json" else "TOML"
        raise CliError(f"the policy file {path} is not valid {kind}: {exc}") from exc
    finally:
        _policy_file.reset(token)
    return policy_from(settings)


def policy_from(settings: BaseSettings) -> Policy:
    """The :class:`Policy` a settings object (a :class:`PolicySettings`) names."""
    values = {item.name: getattr(settings, item.name) for item in dataclasses.fields(Policy)}
    for name in _LISTS:
        if values[name] is not None:
            values[name] = tuple(values[name])
    return Policy(**values)


def _describe(exc: ValidationError, flags: dict[str, Any], path: Path | None) -> str:
    """The first problem as one line: which policy setting, from where, and why."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "?"
    if name in flags:
        source = "--" + (FLAG_PREFIX + name).replace("_", "-")
    elif ENV_PREFIX + name.upper() in os.environ:
        source = ENV_PREFIX + name.upper()
    else:
        source = f"{name} in the policy file {path}" if path else name
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return (
            f"unknown policy setting {source}; the settings are the --policy-* flags of "
            "`rtagents serve --help` without the prefix (docs/relay.md#gateway-policy)"
        )
    return f"invalid policy setting {source}: {message}"


def checked_policy(args: argparse.Namespace, *, model: str, limits: Limits) -> Policy:
    """:func:`load_policy`, then refused (:class:`CliError`) if it cannot work on this server."""
    from ..server.policy.soundness import policy_problem

    policy = load_policy(args)
    problem = policy_problem(policy, default_model=model, limits=limits)
    if problem is not None:
        raise CliError(problem)
    return policy
