"""``rtagents serve`` settings: one model, read from flags, ``RTAGENTS_*`` variables and TOML.

Precedence is flag > environment variable > config file > default, for every
setting alike. The argparse flags are generated from the model's fields, so a
new setting is one field here and ``--help`` shows its default and variable
without anyone keeping two lists in step.
"""

from __future__ import annotations

import argparse
import contextvars
import logging
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .failures import CliError, readable_file
from .limit_settings import PREFIX as LIMIT_PREFIX
from .limit_settings import LimitSettings, limit_metavar

ENV_PREFIX = "RTAGENTS_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"
# The TOML file of the settings being built (a context variable, since
# pydantic-settings picks its sources in a classmethod).
_config_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "rtagents_config_file", default=None
)


class ServeSettings(LimitSettings):
    """Every knob of ``rtagents serve``; the field description is the ``--help`` text.

    The ``limit_*`` settings come from the limits table (:mod:`.limit_settings`).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, frozen=True
    )

    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0: any free port)")
    api_key: str | None = Field(
        None,
        description="the server's API key (mints ek_ secrets); a random one is logged if unset",
    )
    model: str = Field("gpt-realtime", description="model name sessions report")
    session_cap: float = Field(
        3600.0, gt=0, description="close sessions after this many seconds with code 1001"
    )
    resume_grace: float = Field(
        30.0, ge=0, description="seconds a dropped session waits for its client to resume (0: off)"
    )
    upstream: str | None = Field(
        None,
        description="relay mode (docs/relay.md): answer every session with a session on this GA "
        "Realtime server (wss://api.openai.com/v1/realtime, or another rtagents), opened with "
        "the key in RTAGENTS_UPSTREAM_API_KEY; the local engines are not loaded",
    )
    redis: str | None = Field(
        None,
        description="redis:// URL of the state nodes share (redis extra): client secrets, mint "
        "rates, resume logs, so a session resumes on any node; unset: all in this process",
    )
    drain_grace: float = Field(
        25.0,
        ge=0,
        description="on SIGTERM, seconds to move sessions to other nodes (close 1012, refuse "
        "new ones, /healthz draining) before exiting (0: close at once with 1001)",
    )
    workers: int = Field(
        1,
        ge=1,
        le=256,
        description="server processes sharing the port (SO_REUSEPORT); more than 1 needs --redis",
    )
    console: bool | None = Field(
        None,
        description="serve the browser console's secret endpoint (unset: only on a loopback host)",
    )
    ice_server: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="STUN/TURN URL for WebRTC calls (repeat the flag; comma-separated in the "
        "variable); none by default, so no public host is contacted",
    )
    webrtc_loopback: bool = Field(
        False, description="offer 127.0.0.1 ICE candidates (hosts with only a loopback interface)"
    )
    mcp_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="URL prefix MCP tools may reach (repeat the flag; comma-separated in the "
        "variable); none: loopback MCP servers only (docs/mcp.md)",
    )
    mcp_timeout: float = Field(
        20.0, gt=0, description="seconds one MCP tool listing or call may take, connect included"
    )
    call_connect_timeout: float = Field(
        15.0, gt=0, description="seconds a WebRTC call may take to connect before it is closed"
    )
    call_peer_timeout: float = Field(
        10.0,
        ge=0,
        description="seconds a connected WebRTC call may hear nothing from its caller before it "
        "is ended (0: never)",
    )
    engine: Literal["local", "scripted"] = Field(
        "local",
        description="local: offline Whisper + LLM + Piper; scripted: the instant test double",
    )
    llm_url: str | None = Field(
        None,
        description="an OpenAI-compatible server (Ollama: http://127.0.0.1:11434/v1) instead of "
        "the embedded SmolLM2; its key from RTAGENTS_LLM_API_KEY",
    )
    llm_model: str | None = Field(None, description="model name at --llm-url (unset: llama3.2)")
    stt_threads: int = Field(2, ge=1, le=64, description="CPU threads for Whisper")
    engine_threads: int | None = Field(
        None,
        ge=0,
        le=256,
        description="threads Whisper and the TTS share through one queue, the call nearest "
        "to a caller hearing audio first (unset: the cores the embedded LLM leaves; 0: no queue)",
    )
    scenario_rules: str | None = Field(
        None,
        description="a TOML/JSON file of scenario rules that choose tool calls from the user's "
        "words (docs/scenario_rules.md); stands down when --llm-url's model chooses tools",
    )
    force_scenario_rules: bool = Field(
        False, description="apply --scenario-rules even when the LLM chooses tools itself"
    )
    chat_max_request_bytes: int = Field(
        4 * 2**20, ge=1024, description="largest POST /v1/chat/completions body (413 past it)"
    )
    chat_max_concurrent: int = Field(
        16, ge=1, description="chat completions generating at once (429 past it)"
    )
    rate_limit_tokens: int | None = Field(
        None,
        ge=1,
        description="tokens (usage.total_tokens) each API key's sessions may spend per "
        "--rate-limit-window; a response past it fails with rate_limit_exceeded (default: "
        "unlimited)",
    )
    rate_limit_window: float = Field(
        60.0, gt=0, description="seconds after which a key's token budget comes back whole"
    )
    log_format: Literal["console", "json"] = Field(
        "console", description="console lines, or JSON objects one per line"
    )
    log_level: str = Field(
        "INFO", description="INFO: lifecycle and one line per turn; DEBUG: every event"
    )
    record: str | None = Field(
        None,
        description="a directory: write every session's events there, one recording per "
        "session (docs/recording.md)",
    )
    record_audio: Literal["elided", "inline", "beside"] = Field(
        "elided",
        description="audio in recordings: elided (length and CRC-32C), inline, or beside "
        "(raw bytes in NAME.audio)",
    )
    metrics_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="serve Prometheus /metrics on this port, without auth (keep it private); "
        "unset: /metrics on the main port, behind the API key",
    )
    gc_sweep: float = Field(
        600.0,
        ge=0,
        description="keep full garbage collections off live sessions (docs/configuration.md): "
        "survivors are frozen every second and swept when no session is live or after this "
        "many seconds (0: Python's own collector schedule)",
    )
    tracing: Literal["off", "session", "all"] = Field(
        "session",
        description="OpenTelemetry spans (telemetry extra; OTEL_* variables): session: sessions "
        "whose tracing field is set; all: every session; off: none",
    )

    @field_validator("ice_server", "mcp_allow", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("mcp_allow")
    @classmethod
    def _url_prefixes(cls, value: list[str]) -> list[str]:
        from ..server.mcp.allowlist import McpAllowlist

        McpAllowlist(value)  # a ValueError names the bad prefix
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        names = sorted(n for n in logging.getLevelNamesMapping() if n != "NOTSET")
        if value.upper() not in names:
            raise ValueError(f"unknown log level {value!r}; use one of {', '.join(names)}")
        return value.upper()

    @field_validator("api_key")
    @classmethod
    def _not_a_client_secret(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("ek_"):
            raise ValueError(
                "an ek_ client secret cannot be a server API key (it could never log in); "
                "choose any other string, e.g. sk-local-dev"
            )
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
        config_file = _config_file.get()
        if config_file is None:
            return init_settings, env_settings
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, config_file)


def add_serve_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting; unset flags stay absent so lower sources can fill them."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help=f"TOML file of settings, keys as the flags without dashes (env {CONFIG_ENV})",
    )
    # The limits (generated first, as the base class's fields) come last in --help.
    fields = sorted(ServeSettings.model_fields.items(), key=lambda f: f[0].startswith(LIMIT_PREFIX))
    for name, field in fields:
        flag = "--" + name.replace("_", "-")
        help_text = f"{field.description} (default: {_default_text(field)}; env {_env(name)})"
        kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "help": help_text, "dest": name}
        annotation = field.annotation
        if annotation in (bool, bool | None):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif get_origin(annotation) is list:
            kwargs.update(action="append", metavar="URL")
        elif get_origin(annotation) is Literal:
            kwargs["choices"] = get_args(annotation)
        elif name.startswith(LIMIT_PREFIX):
            kwargs["metavar"] = limit_metavar(name)
        else:
            kwargs["metavar"] = name.split("_")[-1].upper()
        parser.add_argument(flag, **kwargs)


def load_serve_settings(args: argparse.Namespace) -> ServeSettings:
    """The effective settings, or a :class:`CliError` naming the setting and its source."""
    flags = {name: getattr(args, name) for name in ServeSettings.model_fields if name in args}
    config_file = readable_file(
        getattr(args, "config", None) or os.environ.get(CONFIG_ENV), "config file"
    )
    token = _config_file.set(config_file)
    try:
        return ServeSettings(**flags)
    except ValidationError as exc:
        raise CliError(_describe(exc, flags, config_file)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"the config file {config_file} is not valid TOML: {exc}") from exc
    finally:
        _config_file.reset(token)


def _describe(exc: ValidationError, flags: dict[str, Any], config_file: Path | None) -> str:
    """The first problem as one line: which setting, from where, and why."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "?"
    if name in flags:
        source = "--" + name.replace("_", "-")
    elif _env(name) in os.environ:
        source = _env(name)
    else:
        source = f"{name} in {config_file}" if config_file else name
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"unknown setting {source}; the settings are listed by `rtagents serve --help`"
    return f"invalid {source}: {message}"


def _env(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _default_text(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "none"
    return "unset" if field.default is None else str(field.default)
