"""``serve --rate-limit-tokens/--rate-limit-window`` reach the server's token budgets."""

from __future__ import annotations

import pytest

from rtagents.cli.failures import CliError
from rtagents.cli.main import build_parser
from rtagents.cli.serve import server_config
from rtagents.cli.settings import load_serve_settings
from rtagents.server.config import ServerConfig


def _config(*flags: str) -> ServerConfig:
    settings = load_serve_settings(build_parser().parse_args(["serve", *flags]))
    return server_config(settings, "sk-test")


def test_the_budget_flags_reach_the_server_config() -> None:
    config = _config("--rate-limit-tokens", "5000", "--rate-limit-window", "30")
    assert (config.rate_limit_tokens, config.rate_limit_window_s) == (5000, 30.0)
    default = _config()
    assert (default.rate_limit_tokens, default.rate_limit_window_s) == (None, 60.0)


def test_a_budget_below_one_token_is_refused() -> None:
    with pytest.raises((CliError, SystemExit)):
        _config("--rate-limit-tokens", "0")
