"""``rtagents serve`` settings: flag > RTAGENTS_* variable > TOML file > default, one way."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from rtagents.cli.failures import CliError
from rtagents.cli.limit_settings import limits_from
from rtagents.cli.main import build_parser
from rtagents.cli.serve import server_config
from rtagents.cli.settings import ServeSettings, load_serve_settings
from rtagents.server.host.limits import Limits


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ServeSettings.model_fields:
        monkeypatch.delenv(f"RTAGENTS_{name.upper()}", raising=False)
    monkeypatch.delenv("RTAGENTS_CONFIG", raising=False)


_ORDINARY = {name for name in ServeSettings.model_fields if not name.startswith("limit_")}


def _load(*flags: str) -> ServeSettings:
    return load_serve_settings(build_parser().parse_args(["serve", *flags]))


def _toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rtagents.toml"
    path.write_text(text)
    return str(path)


def test_defaults_when_nothing_is_set() -> None:
    settings = _load()
    assert (settings.host, settings.port, settings.engine, settings.log_level) == (
        "127.0.0.1",
        8000,
        "local",
        "INFO",
    )
    assert settings.api_key is None and settings.ice_server == [] and settings.console is None


def test_each_source_overrides_the_one_below(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _toml(tmp_path, 'port = 7001\nhost = "0.0.0.0"\nmodel = "from-file"\n')
    monkeypatch.setenv("RTAGENTS_PORT", "7002")
    monkeypatch.setenv("RTAGENTS_HOST", "127.0.0.2")
    settings = _load("--config", config, "--port", "7003")
    # flag beats env beats file beats default, field by field
    assert settings.port == 7003
    assert settings.host == "127.0.0.2"
    assert settings.model == "from-file"
    assert settings.engine == "local"


def test_every_serve_setting_can_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = {
        "HOST": "0.0.0.0",
        "PORT": "9001",
        "API_KEY": "sk-env",
        "MODEL": "m-env",
        "SESSION_CAP": "60",
        "RESUME_GRACE": "0",
        "UPSTREAM": "wss://upstream.example/v1/realtime",
        "CONSOLE": "false",
        "ICE_SERVER": "stun:a.example:3478, turn:b.example",
        "WEBRTC_LOOPBACK": "true",
        "MCP_ALLOW": "https://tools.example.com/mcp, http://10.0.0.2:9000/",
        "MCP_TIMEOUT": "7.5",
        "ENGINE": "scripted",
        "LLM_URL": "http://127.0.0.1:9/v1",
        "LLM_MODEL": "qwen3",
        "STT_THREADS": "1",
        "ENGINE_THREADS": "0",
        "SCENARIO_RULES": "rules.toml",
        "FORCE_SCENARIO_RULES": "1",
        "CHAT_MAX_REQUEST_BYTES": "65536",
        "CHAT_MAX_CONCURRENT": "2",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "debug",
        "RECORD": "recordings",
        "RECORD_AUDIO": "beside",
        "METRICS_PORT": "9464",
        "TRACING": "all",
        "CALL_CONNECT_TIMEOUT": "5",
        "CALL_PEER_TIMEOUT": "0",
        "DRAIN_GRACE": "5",
        "WORKERS": "3",
        "REDIS": "redis://127.0.0.1:6390/0",
        "RATE_LIMIT_TOKENS": "1000",
        "RATE_LIMIT_WINDOW": "30",
        "GC_SWEEP": "120",
    }
    assert set(values) == {name.upper() for name in _ORDINARY}  # limits: tested below
    for name, value in values.items():
        monkeypatch.setenv(f"RTAGENTS_{name}", value)
    settings = _load()
    assert settings.model_dump(include=_ORDINARY) == {
        "host": "0.0.0.0",
        "port": 9001,
        "api_key": "sk-env",
        "model": "m-env",
        "session_cap": 60.0,
        "resume_grace": 0.0,
        "upstream": "wss://upstream.example/v1/realtime",
        "console": False,
        "ice_server": ["stun:a.example:3478", "turn:b.example"],
        "webrtc_loopback": True,
        "mcp_allow": ["https://tools.example.com/mcp", "http://10.0.0.2:9000/"],
        "mcp_timeout": 7.5,
        "engine": "scripted",
        "llm_url": "http://127.0.0.1:9/v1",
        "llm_model": "qwen3",
        "stt_threads": 1,
        "engine_threads": 0,
        "scenario_rules": "rules.toml",
        "force_scenario_rules": True,
        "chat_max_request_bytes": 65536,
        "chat_max_concurrent": 2,
        "log_format": "json",
        "log_level": "DEBUG",
        "record": "recordings",
        "record_audio": "beside",
        "metrics_port": 9464,
        "tracing": "all",
        "call_connect_timeout": 5.0,
        "call_peer_timeout": 0.0,
        "drain_grace": 5.0,
        "workers": 3,
        "redis": "redis://127.0.0.1:6390/0",
        "rate_limit_tokens": 1000,
        "rate_limit_window": 30.0,
        "gc_sweep": 120.0,
    }


def test_the_config_file_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RTAGENTS_CONFIG", _toml(tmp_path, 'ice_server = ["stun:c.example"]\n'))
    assert _load().ice_server == ["stun:c.example"]


def test_help_shows_each_default_and_its_variable() -> None:
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    text = " ".join(serve.format_help().split())
    for name in ServeSettings.model_fields:
        assert f"env RTAGENTS_{name.upper()}" in text
    assert "(default: 8000; env RTAGENTS_PORT)" in text
    assert "(default: gpt-realtime; env RTAGENTS_MODEL)" in text


@pytest.mark.parametrize(
    ("flags", "environment", "message"),
    [
        (["--port", "70000"], {}, "invalid --port: Input should be less than or equal to 65535"),
        (["--port", "-1"], {}, "invalid --port"),
        ([], {"RTAGENTS_PORT": "eighty"}, "invalid RTAGENTS_PORT: Input should be a valid integer"),
        (["--log-level", "LOUD"], {}, "invalid --log-level: unknown log level 'LOUD'"),
        (["--api-key", "ek_abc"], {}, "an ek_ client secret cannot be a server API key"),
        ([], {"RTAGENTS_API_KEY": "ek_abc"}, "invalid RTAGENTS_API_KEY: an ek_ client secret"),
        (["--limit-conversation-items", "0"], {}, "invalid --limit-conversation-items"),
        ([], {"RTAGENTS_LIMIT_JSON_DEPTH": "deep"}, "invalid RTAGENTS_LIMIT_JSON_DEPTH"),
        (["--stt-threads", "0"], {}, "invalid --stt-threads"),
        (["--engine-threads", "-1"], {}, "invalid --engine-threads"),
        ([], {"RTAGENTS_ENGINE": "gpu"}, "invalid RTAGENTS_ENGINE: Input should be 'local'"),
    ],
)
def test_bad_values_name_the_setting_and_where_it_came_from(
    flags: list[str], environment: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(CliError) as failure:
        _load(*flags)
    assert message in str(failure.value)
    assert "\n" not in str(failure.value)


def test_file_problems_are_explained(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="unknown setting colour in .*rtagents.toml"):
        _load("--config", _toml(tmp_path, 'colour = "blue"\n'))
    with pytest.raises(CliError, match="is not valid TOML"):
        _load("--config", _toml(tmp_path, "port = \n"))
    with pytest.raises(CliError, match=r"invalid port in .*rtagents.toml"):
        _load("--config", _toml(tmp_path, 'port = "x"\n'))
    with pytest.raises(CliError, match="cannot read the config file .*missing.toml"):
        _load("--config", str(tmp_path / "missing.toml"))


def test_every_limit_is_a_flag_a_variable_and_a_file_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [field.name for field in dataclasses.fields(Limits)]
    assert {f"limit_{name}" for name in names} == set(ServeSettings.model_fields) - _ORDINARY
    defaults = Limits()
    # Each limit doubled, through each source in turn (flag, variable, file).
    flags: list[str] = []
    toml_lines: list[str] = []
    for index, name in enumerate(names):
        doubled = getattr(defaults, name) * 2
        if index % 3 == 0:
            flags += ["--limit-" + name.replace("_", "-"), str(doubled)]
        elif index % 3 == 1:
            monkeypatch.setenv(f"RTAGENTS_LIMIT_{name.upper()}", str(doubled))
        else:
            toml_lines.append(f"limit_{name} = {doubled}")
    config = _toml(tmp_path, "\n".join(toml_lines) + "\n")
    limits = server_config(_load("--config", config, *flags), "sk-test").limits
    for name in names:
        assert getattr(limits, name) == getattr(defaults, name) * 2, name


def test_limits_default_to_the_table() -> None:
    assert limits_from(_load()) == Limits()
    assert server_config(_load(), "sk-test").limits == Limits()


def test_help_shows_what_each_limit_bounds() -> None:
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    text = " ".join(serve.format_help().split())
    assert "--limit-input-buffer-bytes BYTES limit: Uncommitted input audio" in text
    assert "(default: 15728640; env RTAGENTS_LIMIT_INPUT_BUFFER_BYTES)" in text
    assert "--limit-header-read-timeout-s SECONDS" in text


def test_metrics_and_tracing_reach_the_server_config(monkeypatch: pytest.MonkeyPatch) -> None:
    config = server_config(_load("--metrics-port", "9464", "--tracing", "off"), "sk-test")
    assert (config.metrics_port, config.tracing) == (9464, "off")
    assert server_config(_load(), "sk-test").metrics_port is None  # /metrics behind the key
    # --tracing all without the telemetry extra: one line saying what to install.
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(CliError, match=r"--tracing all: .*pip install 'rtagents\[telemetry\]'"):
        server_config(_load("--tracing", "all"), "sk-test")


def test_call_timeouts_reach_the_server_config() -> None:
    config = server_config(_load("--call-connect-timeout", "4", "--call-peer-timeout", "0"), "k")
    assert (config.call_connect_timeout_s, config.call_peer_timeout_s) == (4.0, 0.0)
    default = server_config(_load(), "k")
    assert (default.call_connect_timeout_s, default.call_peer_timeout_s) == (15.0, 10.0)


def test_mcp_allow_and_timeout_reach_the_server_config() -> None:
    flags = ("--mcp-allow", "https://a.example/mcp", "--mcp-allow", "http://b.example:81/")
    config = server_config(_load(*flags, "--mcp-timeout", "3"), "k")
    assert config.mcp_allow == ("https://a.example/mcp", "http://b.example:81/")
    assert config.mcp_timeout_s == 3.0
    default = server_config(_load(), "k")
    assert (default.mcp_allow, default.mcp_timeout_s) == ((), 20.0)


def test_a_bad_mcp_allow_prefix_is_refused_at_startup() -> None:
    with pytest.raises(CliError, match=r"--mcp-allow.*'tools\.example\.com' is not a usable MCP"):
        _load("--mcp-allow", "tools.example.com")
