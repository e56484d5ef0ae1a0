"""``rtagents serve``'s gateway policy settings: flags, variables, ``--policy FILE``, and refusals.

A policy that cannot work stops the server before it starts, with one line
naming the setting and where it came from.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rtagents.cli.limit_settings import limits_from
from rtagents.cli.main import build_parser, main
from rtagents.cli.policy_settings import checked_policy, load_policy
from rtagents.cli.serve import server_config
from rtagents.cli.settings import load_serve_settings
from rtagents.server.policy.table import Policy

RTAGENTS = str(Path(sys.executable).with_name("rtagents"))
GOOD_TOML = """
allowed_models = ["gpt-realtime"]
allowed_functions = ["get_weather"]
instructions_prefix = "Be brief. "
max_instructions_bytes = 2048
sessions_per_window = 10
[forced_fields]
max_output_tokens = 512
[forced_fields.audio.output]
voice = "marin"
"""


def _policy(*flags: str) -> Policy:
    args = build_parser().parse_args(["serve", *flags])
    settings = load_serve_settings(args)
    return checked_policy(args, model=settings.model, limits=limits_from(settings))


def _file(tmp_path: Path, text: str, name: str = "policy.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_no_policy_settings_restrict_nothing() -> None:
    policy = _policy()
    assert policy == Policy()
    assert not policy.screens_events


def test_a_toml_policy_file_sets_every_kind_of_field(tmp_path: Path) -> None:
    policy = _policy("--policy", _file(tmp_path, GOOD_TOML))
    assert hash(policy)  # frozen, forced fields included: a table like Limits
    assert policy.allowed_models == ("gpt-realtime",)
    assert policy.allowed_functions == ("get_weather",)
    assert policy.tool_types == ("function",)  # a function allowlist alone keeps MCP out
    assert policy.forced_fields["audio"]["output"]["voice"] == "marin"
    assert (policy.max_instructions_bytes, policy.sessions_per_window) == (2048, 10)


def test_a_json_policy_file_is_read_by_its_suffix(tmp_path: Path) -> None:
    text = '{"allowed_tool_types": ["function"], "forced_fields": {"max_output_tokens": 64}}'
    policy = _policy("--policy", _file(tmp_path, text, "policy.json"))
    assert policy.allowed_tool_types == ("function",)
    assert policy.forced_fields == {"max_output_tokens": 64}


def test_flag_beats_variable_beats_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTAGENTS_POLICY", _file(tmp_path, GOOD_TOML))
    monkeypatch.setenv("RTAGENTS_POLICY_SESSIONS_PER_WINDOW", "20")
    monkeypatch.setenv("RTAGENTS_POLICY_ALLOWED_FUNCTIONS", "a,b")
    policy = _policy("--policy-sessions-per-window", "30", "--policy-allowed-functions", "")
    assert policy.sessions_per_window == 30
    assert policy.allowed_functions == ()  # an empty list allows no function at all
    assert policy.instructions_prefix == "Be brief. "  # from the file
    flags = ("--policy-forced-fields", '{"max_output_tokens": 99}', "--policy-max-session-s", "60")
    forced = _policy(*flags)
    assert (forced.forced_fields["max_output_tokens"], forced.max_session_s) == (99, 60.0)


def test_the_server_config_carries_the_policy(tmp_path: Path) -> None:
    args = build_parser().parse_args(["serve", "--policy-concurrent-sessions", "3"])
    config = server_config(load_serve_settings(args), "sk-test", load_policy(args))
    assert config.policy.concurrent_sessions == 3
    assert server_config(load_serve_settings(args), "sk-test").policy == Policy()


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("allowed_models = [", "p.toml", "is not valid TOML"),
        ("{", "p.json", "is not valid JSON"),
        ("allowed_modles = ['x']", "p.toml", "unknown policy setting allowed_modles in the policy"),
        ("sessions_per_window = 'many'", "p.toml", "invalid policy setting sessions_per_window"),
        ("concurrent_sessions = -1", "p.toml", "greater than or equal to 0"),
        ("quota_window_s = 0", "p.toml", "invalid policy setting quota_window_s"),
        ("allowed_tool_types = ['shell']", "p.toml", "unknown tool type 'shell'"),
        ("forced_fields = 5", "p.toml", "must be a JSON object of session fields"),
        ("[forced_fields]\nbogus = 1", "p.toml", "forced_fields.bogus is not a GA session field"),
        ("[forced_fields]\nmax_output_tokens = 'x'", "p.toml", "forced_fields.max_output_tokens"),
        ("[forced_fields]\nmodel = 'gpt-realtime'", "p.toml", "may not set 'model'"),
        ("allowed_models = ['other']", "p.toml", "the default model 'gpt-realtime' (--model)"),
        (
            "allowed_functions = ['a']\n[[forced_fields.tools]]\ntype = 'function'\nname = 'b'",
            "p.toml",
            "forced_fields break the policy itself",
        ),
    ],
)
def test_a_bad_policy_is_refused_before_the_server_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, name: str, expected: str
) -> None:
    path = _file(tmp_path, text, name)
    assert main(["serve", "--engine", "scripted", "--port", "0", "--policy", path]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("rtagents serve: ") and expected in line, line


def test_a_missing_policy_file_and_a_bad_flag_name_their_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--engine", "scripted", "--policy", str(tmp_path / "none.toml")]) == 2
    assert "cannot read the policy file" in capsys.readouterr().err
    assert main(["serve", "--engine", "scripted", "--policy-forced-fields", "{nope"]) == 2
    assert "invalid policy setting --policy-forced-fields: not JSON" in capsys.readouterr().err


def test_the_command_refuses_a_bad_policy_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    path = _file(tmp_path, "[forced_fields]\nvoice_of_god = true")
    result = subprocess.run(
        [RTAGENTS, "serve", "--engine", "scripted", "--port", "0", "--policy", path],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "rtagents serve: policy forced_fields.voice_of_god is not a GA session field"
    )
