"""``rtagents serve --workers N``: N server processes on one port, one supervising parent.

One process runs one event loop on one core; a machine's other cores stay
idle for the server unless more processes serve the same port. Each worker is
an ordinary ``rtagents serve`` process that binds the port with
``SO_REUSEPORT``, so the kernel spreads new connections over the workers'
listeners evenly (a shared accept queue would hand most of them to whichever
worker wakes first). Workers share nothing in memory: secrets, resume logs and
the call registry live in Redis (``--redis``), which is why more than one
worker needs it.

The parent serves nothing itself. It holds the port (so ``--port 0`` picks one
port for all), starts the workers, restarts one that dies (with a growing
pause when it keeps dying young; it gives up on a crash loop, or at once when
a worker cannot start because of its configuration), and forwards
SIGTERM (each worker drains: server/drain.py) and SIGINT. A worker's stdin is
a pipe from the parent that is never written: if the parent dies, the workers
read EOF and drain instead of living on unsupervised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable

log = logging.getLogger("rtagents.workers")

WORKER_ENV = "RTAGENTS_WORKER_INDEX"
"""Set in each worker's environment (0..N-1); its presence makes a process a worker."""
# A worker that dies sooner than this after its start died young: the next
# restart waits, twice as long each time, up to RESTART_PAUSE_MAX_S.
YOUNG_DEATH_S = 10.0
RESTART_PAUSE_S = 0.5
RESTART_PAUSE_MAX_S = 30.0
# This many young deaths in a row of one worker is a crash loop: the group stops.
CRASH_LOOP_DEATHS = 5
# After the workers' drain grace, how long the parent still waits before SIGKILL.
STOP_MARGIN_S = 15.0


def worker_index() -> int | None:
    """This process's worker number when a ``--workers`` parent started it, else None."""
    value = os.environ.get(WORKER_ENV)
    return int(value) if value is not None and value.isdigit() else None


def watch_parent(on_gone: Callable[[], None]) -> None:
    """In a worker: call ``on_gone`` when the parent's pipe on stdin closes (the parent died)."""
    if worker_index() is None:
        return
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            log.warning("the --workers parent is gone; draining")
            on_gone()

    loop.add_reader(fd, readable)


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind (not listen) ``host:port`` with SO_REUSEPORT: the port is the group's from now on.

    A socket that does not listen receives no connections, so the parent holds
    the port (``--port 0`` resolved once for every worker) without serving.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class WorkerGroup:
    """N worker processes kept alive until a signal stops them all."""

    def __init__(
        self,
        command: list[str],
        count: int,
        env: dict[str, str],
        *,
        stop_within_s: float,
        unfixable_status: int | None = None,
        restart_pause_s: float = RESTART_PAUSE_S,
    ) -> None:
        self.command = command
        # A worker whose first life ends with this status was misconfigured (the
        # command line's error status): restarting it cannot help, so the group stops.
        self.unfixable_status = unfixable_status
        self.restart_pause_s = restart_pause_s
        self.count = count
        self.env = env
        self.stop_within_s = stop_within_s + STOP_MARGIN_S
        self.stopping = False
        self.restarts = 0
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._stopped = asyncio.Event()
        self._signal: int | None = None  # what stop() forwarded last

    async def run(self) -> int:
        """Keep every worker running until a signal or a give-up; 0 if all exited cleanly."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop, signal.SIGTERM)
        loop.add_signal_handler(signal.SIGINT, self.stop, signal.SIGINT)
        try:
            keepers = [
                asyncio.create_task(self._keep(i), name=f"worker-{i}") for i in range(self.count)
            ]
            codes = await asyncio.gather(*keepers)
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            loop.remove_signal_handler(signal.SIGINT)
        failed = [code for code in codes if code != 0]
        log.info("workers stopped (%d restarts)", self.restarts)
        return 1 if failed else 0

    def stop(self, signum: int) -> None:
        """Forward ``signum`` to every worker (SIGTERM: each drains) and restart none."""
        first = not self.stopping
        self.stopping = True
        self._signal = signum
        self._stopped.set()
        if first:
            log.info("%s: stopping %d workers", signal.Signals(signum).name, len(self._procs))
        for proc in self._procs.values():
            if proc.returncode is None:
                proc.send_signal(signum)

    async def _keep(self, index: int) -> int:
        """Run worker ``index``, again after each death, until stopped; its last exit status."""
        young_deaths = 0
        loop = asyncio.get_running_loop()
        first_life = True
        while True:
            started = loop.time()
            proc = await self._start(index)
            code = await self._wait(proc)
            if self.stopping:
                return code
            if first_life and code == self.unfixable_status:
                log.error(
                    "worker %d could not start (status %d); stopping every worker", index, code
                )
                self.stop(signal.SIGTERM)
                return code
            young = loop.time() - started < YOUNG_DEATH_S
            young_deaths = young_deaths + 1 if young else 0
            log.warning(
                "worker %d (pid %d) exited with %s; restarting",
                index,
                proc.pid,
                code,
                extra={"worker": index, "exit_code": code},
            )
            if young_deaths >= CRASH_LOOP_DEATHS:
                log.error("worker %d keeps dying at start; stopping every worker", index)
                self.stop(signal.SIGTERM)
                return code or 1
            if young_deaths:
                pause = min(self.restart_pause_s * 2 ** (young_deaths - 1), RESTART_PAUSE_MAX_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), pause)
                if self.stopping:
                    return code
            self.restarts += 1
            first_life = False

    async def _start(self, index: int) -> asyncio.subprocess.Process:
        env = {**self.env, WORKER_ENV: str(index)}
        # A session of its own: a terminal's Ctrl-C reaches the parent only, which forwards it.
        proc = await asyncio.create_subprocess_exec(
            *self.command, stdin=asyncio.subprocess.PIPE, env=env, start_new_session=True
        )
        self._procs[index] = proc
        if self._signal is not None:  # stopped while this worker was being started
            proc.send_signal(self._signal)
        log.info("worker %d started (pid %d)", index, proc.pid, extra={"worker": index})
        return proc

    async def _wait(self, proc: asyncio.subprocess.Process) -> int:
        """The worker's exit status; SIGKILL when it outlives a stop by the grace and margin."""
        exited = asyncio.ensure_future(proc.wait())
        stopped = asyncio.ensure_future(self._stopped.wait())
        await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not exited.done():
            try:
                await asyncio.wait_for(asyncio.shield(exited), self.stop_within_s)
            except TimeoutError:
                log.error(
                    "worker pid %d did not stop within %.0f s; killing it",
                    proc.pid,
                    self.stop_within_s,
                )
                proc.kill()
        return await exited
