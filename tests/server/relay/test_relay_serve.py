"""``rtagents serve --upstream URL``: the settings become a relay, the key comes from the env."""

from __future__ import annotations

import pytest
from server_harness import session

from rtagents.cli.failures import CliError
from rtagents.cli.main import build_parser
from rtagents.cli.serve import engines_for, server_config
from rtagents.cli.settings import ServeSettings, load_serve_settings
from rtagents.server.config import ServerConfig
from rtagents.server.relay.upstream_settings import API_KEY_ENV
from rtagents.server.serving import running_server


def test_the_upstream_flag_is_read_from_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "sk-upstream")
    args = build_parser().parse_args(["serve", "--upstream", "wss://up.example/v1/realtime"])
    config = server_config(load_serve_settings(args), "sk-local")
    assert config.upstream is not None
    assert config.upstream.url == "wss://up.example/v1/realtime"
    assert config.upstream.api_key == "sk-upstream"


async def test_relay_mode_loads_no_local_models() -> None:
    settings = ServeSettings(upstream="wss://up.example/v1/realtime", engine="local")
    async with engines_for(settings) as engines:
        assert engines.name == "scripted"  # nothing to load: the upstream answers


def test_without_upstream_the_server_answers_locally() -> None:
    assert server_config(ServeSettings(), "sk-local").upstream is None


def test_the_upstream_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    settings = ServeSettings(upstream="wss://upstream.invalid/v1/realtime")
    with pytest.raises(CliError, match=API_KEY_ENV):
        server_config(settings, "sk-local")


def test_a_bad_upstream_url_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "sk-upstream")
    with pytest.raises(CliError, match="not a Realtime URL"):
        server_config(ServeSettings(upstream="ftp://nowhere"), "sk-local")


async def test_serve_settings_with_upstream_relay_a_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running_server(ServerConfig(port=0)) as upstream:
        monkeypatch.setenv(API_KEY_ENV, upstream.api_key)
        settings = ServeSettings(upstream=upstream.ws_url, port=0, engine="scripted")
        config = server_config(settings, "sk-relay")
        assert config.upstream is not None
        assert config.upstream.api_key == upstream.api_key
        async with running_server(config) as relay, session(relay) as client:
            item_id = await client.user_text("through the gateway")
            (upstream_host,) = [h for h in upstream.app.state.rtagents.sessions]
            assert upstream_host.conversation.item_ids == [item_id]
