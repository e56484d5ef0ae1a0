"""``rtagents serve --workers N``: the parent's side, from the command line to the group.

The parent checks what the workers need (``--redis`` when N > 1, the port),
rebuilds the command line each worker runs and hands them to
:class:`rtagents.server.workers.WorkerGroup`, which supervises them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

from ..server.workers import WorkerGroup, reserve_port
from .failures import CliError, bind_failure
from .policy_settings import add_policy_flags
from .settings import ServeSettings, add_serve_flags

log = logging.getLogger("rtagents.workers")
# Flags the parent sets for each worker itself.
_OWN_FLAGS = frozenset({"workers", "port", "help"})


def worker_flags(args: argparse.Namespace) -> list[str]:
    """The ``serve`` flags this process was given, rebuilt for a worker's command line.

    Read from the flag definitions themselves, so every flag (settings,
    limits, policy) goes along. Only flags set on the command line are present
    in ``args`` (their defaults are suppressed), so a worker reads the same
    variables and config files as the parent, with the same precedence.
    """
    flags: list[str] = []
    for action in serve_parser()._actions:
        if not action.option_strings or action.dest in _OWN_FLAGS or action.dest not in args:
            continue
        flag, value = action.option_strings[0], getattr(args, action.dest)
        if isinstance(action, argparse.BooleanOptionalAction):
            if value is not None:
                flags.append(flag if value else "--no-" + flag.removeprefix("--"))
        elif isinstance(value, list):
            for item in value:
                flags += [flag, str(item)]
        elif value is not None:
            flags += [flag, str(value)]
    return flags


def serve_parser() -> argparse.ArgumentParser:
    """The flags of ``rtagents serve``, as ``cli/main.py`` adds them (a test keeps them equal)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_serve_flags(parser)
    add_policy_flags(parser)
    return parser


def run_workers(settings: ServeSettings, args: argparse.Namespace, api_key: str) -> int:
    """Serve with ``settings.workers`` processes until SIGTERM/SIGINT; the exit status."""
    redis_url: Any = getattr(settings, "redis", None)  # --redis (server/stores/redis_*)
    if not redis_url:
        raise CliError(
            f"--workers {settings.workers} needs --redis URL: workers share no memory, so "
            "client secrets, resume logs and WebRTC calls must live in one Redis for a "
            "session to work on whichever worker its connection lands (or use --workers 1)"
        )
    try:
        holder = reserve_port(settings.host, settings.port)
    except OSError as exc:
        raise bind_failure(exc, settings.host, settings.port) from exc
    port = holder.getsockname()[1]
    base = [sys.executable, "-m", "rtagents.cli.main", "serve"]
    base += worker_flags(args)
    base += ["--workers", "1", "--port", str(port)]
    env = dict(os.environ)
    if settings.api_key is None:  # one generated key for all (a flag would show in ps)
        env["RTAGENTS_API_KEY"] = api_key
        log.warning("no --api-key given; this run's API key is %s", api_key)
    group = WorkerGroup(
        base,
        settings.workers,
        env,
        stop_within_s=settings.drain_grace,
        unfixable_status=CliError("").exit_code,  # a setting the worker refused
    )
    try:
        log.info(
            "%d workers serving on %s:%d (SO_REUSEPORT)", settings.workers, settings.host, port
        )
        return asyncio.run(group.run())
    finally:
        holder.close()
