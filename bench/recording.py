"""What ``serve --record`` costs: events per CPU second of a voice-like session, off and on.

Each session does what a voice call does: 2 s of ``input_audio_buffer.append``
frames (20 ms each, or ``--chunk-ms``; silence, so the server VAD runs but no
turn starts; ``--no-vad`` turns the VAD off, the worst case), then a user item
and ``response.create`` answered in audio (``response.output_audio.delta``,
transcript deltas, ``response.done``), with the scripted engines. Two setups,
rounds alternating off and on in the same run, best round of each kept:

- ``websocket``: ``rtagents serve``'s code (uvicorn, a real loopback
  WebSocket) in this process, the client in a separate process; the figure
  is events per CPU second of the server process, what a deployment pays;
- ``memory``: the session host driven in memory by a raw client in this
  process, no socket: the host's own work only, so recording's share of it
  is the largest it can be (a worst case, not a deployment).

CPU seconds (``time.process_time``), not wall time: other work on a shared
machine then changes the figures less. Sessions of the same code still vary
by ±10-20 % from round to round on this machine, more than the cost measured,
so two more estimates come with each setup: the median of the rounds' paired
on/off ratios, and the time spent inside the recorder's hooks as a share of
the same sessions' CPU (:class:`HookClock`), which the load moves least. It
also weighs the recording of that traffic (elided audio) and scales it to
one hour of a voice call.

Run: ``.venv/bin/python bench/recording.py`` (``--rounds N --turns N --chunk-ms N --quick``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from rtagents.engines.scripted import Rule, Say, scripted_engines
from rtagents.server.app import create_app, server_state
from rtagents.server.config import ServerConfig
from rtagents.server.host.recording_observer import SessionRecorder, session_recorders
from rtagents.server.serving import running_server
from rtagents.testing.in_memory import MemoryServer
from rtagents.transports.base import Transport

TURN_AUDIO_MS = 2000  # the caller's audio before each reply


class Chunks:
    """The append size: ``--chunk-ms`` of pcm16 at 24 kHz (20 ms: WebRTC's frame)."""

    ms = 20

    @classmethod
    def payload(cls) -> str:
        return base64.b64encode(bytes(48 * cls.ms)).decode()

    @classmethod
    def per_turn(cls) -> int:
        return TURN_AUDIO_MS // cls.ms


REPLY = " ".join(["the quick brown fox jumps over the lazy dog"] * 3)


class Workload:
    """What the session turns on: ``server_vad`` (a voice call: the hosted default, and the
    VAD hears every append) or, with ``--no-vad``, nothing (the host's work alone: the
    worst case for recording's share)."""

    vad = True

    @classmethod
    def session(cls) -> str:
        detection = {"type": "server_vad"} if cls.vad else None
        audio = {"input": {"turn_detection": detection}}
        fields = {"type": "realtime", "output_modalities": ["audio"], "audio": audio}
        return json.dumps({"type": "session.update", "session": fields})


def frame(kind: str, **fields: object) -> str:
    return json.dumps({"type": kind, **fields}, separators=(",", ":"))


async def until(link: Transport, marker: str) -> int:
    """Read frames until one contains ``marker``; how many were read."""
    count = 0
    while True:
        message = await link.recv()
        count += 1
        if isinstance(message, str) and marker in message:
            return count


async def client_turns(link: Transport, turns: int) -> int:
    """The session's traffic after ``session.updated``; how many frames it moved."""
    append = frame("input_audio_buffer.append", audio=Chunks.payload())
    item = frame(
        "conversation.item.create",
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
    )
    moved = 0
    for _ in range(turns):
        for _ in range(Chunks.per_turn()):
            await link.send(append)
        await link.send(item)
        await link.send(frame("response.create"))
        moved += Chunks.per_turn() + 2 + await until(link, '"response.done"')
    return moved


async def websocket_client(url: str, key: str, turns: int) -> None:
    """The client process: connect, say ready, run the turns, say how many frames moved."""
    from rtagents.transports.websocket import connect_websocket

    link = await connect_websocket(url, headers={"Authorization": f"Bearer {key}"})
    await until(link, '"conversation.created"')
    await link.send(Workload.session())
    await until(link, '"session.updated"')
    print("ready", flush=True)
    moved = await client_turns(link, turns)
    print(f"done {moved}", flush=True)
    await link.close()


async def websocket_session(recording_dir: Path | None, turns: int) -> tuple[int, float]:
    """Frames moved by one session over a real WebSocket, and the server's CPU seconds."""
    observers = (session_recorders(recording_dir),) if recording_dir is not None else ()
    engines = scripted_engines([Rule(when="go", then=Say(REPLY))])
    async with running_server(ServerConfig(port=0, observers=observers), engines) as server:
        client = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--chunk-ms", str(Chunks.ms),
            "--client", server.ws_url, server.api_key, str(turns),
            *([] if Workload.vad else ["--no-vad"]),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert client.stdout is not None
        if await client.stdout.readline() != b"ready\n":
            raise RuntimeError("the client process did not connect")
        began = time.process_time()
        done = await client.stdout.readline()
        cpu = time.process_time() - began
        await client.wait()
    return int(done.split()[1]), cpu


async def one_session(recording_dir: Path | None, turns: int) -> tuple[int, float]:
    """Events (in + out) of one session and the seconds they took."""
    observers = (session_recorders(recording_dir),) if recording_dir is not None else ()
    config = ServerConfig(port=0, observers=observers)
    engines = scripted_engines([Rule(when="go", then=Say(REPLY))])
    server = MemoryServer(server_state(create_app(config, engines)))
    link = await server.open()
    await until(link, '"conversation.created"')
    began = time.process_time()
    await link.send(Workload.session())
    await until(link, '"session.updated"')
    await client_turns(link, turns)
    elapsed = time.process_time() - began
    host = server.hosts[0]
    events = host.received_frames + host.frames_emitted
    await server.close()
    return events, elapsed


class Weights:
    """Bytes of a recording by kind of line, and the audio its output deltas carried."""

    def __init__(self, directory: Path) -> None:
        self.bytes = {"append": 0, "delta": 0, "other": 0}
        self.lines = {"append": 0, "delta": 0, "other": 0}
        self.output_audio_s = 0.0
        for path in directory.glob("*.jsonl"):
            for line in path.read_text().splitlines()[1:]:
                record = json.loads(line)
                if record["kind"] == "appends":  # a run: one line, ``n`` appends
                    self.bytes["append"] += len(line) + 1
                    self.lines["append"] += record["n"]
                    continue
                kind = (record.get("event") or {}).get("type")
                key = {"input_audio_buffer.append": "append"}.get(kind, "other")
                if kind == "response.output_audio.delta":
                    key = "delta"
                    self.output_audio_s += record["event"]["delta"]["bytes"] / 48_000
                self.bytes[key] += len(line) + 1
                self.lines[key] += 1

    def per_line(self, key: str) -> float:
        return self.bytes[key] / max(1, self.lines[key])

    def hour(self, turns: int) -> float:
        """One hour of a voice call: the caller's audio streamed all hour (appends of
        ``--chunk-ms``), the agent speaking half of it (30 min of output deltas), a turn
        every 15 s (240)."""
        delta_s = self.bytes["delta"] / max(self.output_audio_s, 1e-9)  # bytes per audio second
        append = self.bytes["append"] / max(1, turns * Chunks.per_turn())
        other_per_turn = self.bytes["other"] / max(1, turns)
        return 3_600_000 / Chunks.ms * append + 1_800 * delta_s + 240 * other_per_turn


Runner = Callable[[Path | None, int], Awaitable[tuple[int, float]]]


class HookClock:
    """Time spent inside the recorder's hooks (``SessionRecorder``'s observer methods),
    read with ``perf_counter`` around each call: what recording costs the server,
    measured in the same sessions as their CPU time (so load on the machine moves
    both alike). The clock's own ~0.1 µs a call is counted too (it errs high)."""

    HOOKS = ("on_sent", "on_received", "on_turn", "on_closed")

    def __init__(self) -> None:
        self.seconds = 0.0
        for name in self.HOOKS:
            setattr(SessionRecorder, name, self._timed(getattr(SessionRecorder, name)))

    def _timed(self, hook: Callable[..., None]) -> Callable[..., None]:
        clock = time.perf_counter

        def timed(*args: object) -> None:
            began = clock()
            try:
                hook(*args)
            finally:
                self.seconds += clock() - began

        return timed


class Comparison:
    """Events per CPU second of each round, off and on in alternation, and the hooks' share."""

    def __init__(self) -> None:
        self.rates: dict[str, list[float]] = {"off": [], "on": []}
        self.hook_shares: list[float] = []
        self.events = 0

    def best(self, mode: str) -> float:
        return max(self.rates[mode])

    def paired_cost(self) -> float:
        """The median over rounds of 1 - on/off, each round's two sessions side by side."""
        ratios = [on / off for off, on in zip(self.rates["off"], self.rates["on"], strict=True)]
        return 100 * (1 - statistics.median(ratios))


async def compare(run: Runner, rounds: int, turns: int, tmp: Path, hooks: HookClock) -> Comparison:
    """Events per CPU second off and on, alternating, and the hooks' share of the on rounds."""
    result = Comparison()
    await run(None, 1)  # warm up: imports, adapters, engine caches
    for index in range(rounds):
        for mode in ("off", "on") if index % 2 == 0 else ("on", "off"):
            hooks.seconds = 0.0
            result.events, seconds = await run(tmp / mode if mode == "on" else None, turns)
            result.rates[mode].append(result.events / seconds)
            if mode == "on":
                result.hook_shares.append(100 * hooks.seconds / seconds)
    return result


async def measure(rounds: int, turns: int) -> None:
    print(
        f"session: {turns} turns, {Chunks.per_turn()} appends ({Chunks.ms} ms) "
        "and one audio reply each; "
        + ("server_vad on (silence: no turn starts)" if Workload.vad else "no turn detection")
    )
    print(f"best of {rounds} rounds each, events per CPU second of the server")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        hooks = HookClock()
        for name, run in (("websocket", websocket_session), ("memory", one_session)):
            result = await compare(run, rounds, turns, tmp / name, hooks)
            off, on = result.best("off"), result.best("on")
            print(
                f"{name:<9}  {result.events} events a session: off {off:>9,.0f}/s  "
                f"on {on:>9,.0f}/s  on/off {on / off:.3f}x -> recording costs "
                f"{100 * (1 - on / off):.1f} %"
            )
            share = statistics.median(result.hook_shares)
            print(
                f"{'':<9}  median of the rounds' on/off pairs: costs {result.paired_cost():.1f} %; "
                f"inside the recorder's hooks: {share:.1f} % of the server's CPU "
                f"(costs {100 * share / (100 - share):.1f} %)"
            )
        weights = Weights(tmp / "memory" / "on")
        sessions = len(list((tmp / "memory" / "on").glob("*.jsonl")))
    total = sum(weights.bytes.values()) / sessions
    print(
        f"recording of one session: {total:,.0f} bytes: appends "
        f"{weights.per_line('append'):.0f} bytes each, audio deltas "
        f"{weights.per_line('delta'):.0f} bytes each, other events "
        f"{weights.per_line('other'):.0f} bytes each"
    )
    print(
        "one hour of voice (caller audio all hour, agent speaking half of it, a turn every "
        f"15 s): ~{weights.hour(turns * sessions) / 2**20:,.0f} MiB elided"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="1 round of 1 turn (a smoke run)")
    parser.add_argument(
        "--client", nargs=3, metavar=("URL", "KEY", "TURNS"), help=argparse.SUPPRESS
    )
    parser.add_argument("--chunk-ms", type=int, default=20, help="append size (default 20 ms)")
    parser.add_argument("--no-vad", action="store_true", help="no turn detection (worst case)")
    args = parser.parse_args(argv)
    Chunks.ms = args.chunk_ms
    Workload.vad = not args.no_vad
    if args.client:
        url, key, count = args.client
        asyncio.run(websocket_client(url, key, int(count)))
        return
    rounds, turns = (1, 1) if args.quick else (args.rounds, args.turns)
    asyncio.run(measure(rounds, turns))


if __name__ == "__main__":
    main()
