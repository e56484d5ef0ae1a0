"""``rtagents serve --redis URL``: the URL reaches the server, an unusable Redis is one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rtagents.cli.main import build_parser
from rtagents.cli.serve import server_config
from rtagents.cli.settings import load_serve_settings
from rtagents.testing.server_process import free_port

RTAGENTS = str(Path(sys.executable).with_name("rtagents"))


def test_the_redis_url_reaches_the_server_config() -> None:
    args = build_parser().parse_args(["serve", "--redis", "redis://127.0.0.1:6390/2"])
    config = server_config(load_serve_settings(args), "sk-test")
    assert config.redis_url == "redis://127.0.0.1:6390/2"
    plain = server_config(load_serve_settings(build_parser().parse_args(["serve"])), "sk")
    assert plain.redis_url is None  # without --redis everything stays in memory


def test_a_redis_nobody_answers_is_a_one_line_failure() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTAGENTS_")}
    result = subprocess.run(
        [RTAGENTS, "serve", "--engine", "scripted", "--port", "0", "--redis", url],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rtagents serve: cannot use Redis at " + url), lines[0]
