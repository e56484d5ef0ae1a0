"""``--workers``: each worker's command line carries every flag the parent was given."""

from __future__ import annotations

import argparse

from rtagents.cli.main import build_parser
from rtagents.cli.serve_workers import serve_parser, worker_flags


def test_worker_flags_parse_back_to_the_parents_settings_but_port_and_workers() -> None:
    given = [
        *("serve", "--engine", "scripted", "--workers", "3", "--port", "0"),
        *("--ice-server", "stun:a.example", "--ice-server", "turn:b.example"),
        *("--no-console", "--webrtc-loopback", "--limit-quoted-chars", "8"),
        *("--policy-allowed-models", "a,b", "--redis", "redis://127.0.0.1:1/0"),
        *("--config", "serve.toml", "--drain-grace", "5"),
    ]
    parent = vars(build_parser().parse_args(given))
    flags = worker_flags(build_parser().parse_args(given))
    worker = vars(build_parser().parse_args(["serve", *flags]))
    assert "workers" not in worker and "port" not in worker
    assert worker == {k: v for k, v in parent.items() if k not in ("workers", "port")}


def test_unset_flags_stay_unset_so_variables_and_files_still_apply() -> None:
    assert worker_flags(build_parser().parse_args(["serve", "--workers", "2"])) == []


def test_the_workers_know_every_flag_of_rtagents_serve() -> None:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    serve = commands.choices["serve"]
    flags = {o for a in serve._actions for o in a.option_strings if o not in ("-h", "--help")}
    assert flags == {o for a in serve_parser()._actions for o in a.option_strings}
