"""One simulated caller of ``bench/load.py``: real-time audio in, events out, timed.

Each caller opens a WebSocket, turns on ``server_vad`` (the scripted engine's
``EnergyVAD``), and streams a looped turn -- tone-coded speech, then silence --
in 100 ms appends paced by the clock (absolute deadlines, so it never drifts).
The server detects the end of each utterance, commits it and replies with
audio. The caller writes down when it sent each chunk and when it read each
frame; :mod:`load` compares those with the server's emit times.

Frames are classified by their top-level ``type`` without a JSON parse (it is
the last key of every GA event as the server encodes them), so the load
generator spends its CPU on the socket, not on decoding audio it ignores.
Two WebSocket clients keep the same books (``run_caller(client=...)``):
``raw``, the lean one of :mod:`load_wire` (the default: it leaves the servers
more of the machine), and ``websockets``, the library's client.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import socket
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from load_wire import WireConnection, WireError, client_frames, open_wire
from websockets.asyncio.client import ClientConnection, connect

from rtagents.engines.scripted import scripted_speech
from rtagents.protocol.audio import b64_decoded_length

CHUNK_MS = 100
CHUNK_BYTES = 24_000 * 2 * CHUNK_MS // 1000  # pcm16 24 kHz
SILENCE_MS = 500  # server_vad silence_duration_ms
UTTERANCE = "hello there"
REPLY = f"You said: {UTTERANCE}"  # the scripted model's default answer
REPLY_TIMEOUT_S = 10.0
# A reply arrives as a burst of ~130 KB of JSON (audio is generated faster than
# real time). With Linux's default 128 KiB receive buffer on a fresh loopback
# connection that burst fills the window, and the window update waits for a
# delayed ACK: ~40 ms on every frame behind it, in the *client's* kernel. The
# load generator sizes its buffer for a burst so it measures the server.
RCVBUF = 1 << 20
TURN_CHUNKS = 20  # 2 s per turn: speech padded to 600 ms, then 1.4 s of silence
SESSION_UPDATE = json.dumps(
    {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["audio"],
            "audio": {
                "input": {
                    "turn_detection": {
                        "type": "server_vad",
                        "silence_duration_ms": SILENCE_MS,
                        "create_response": True,
                    }
                }
            },
        },
    }
)


def turn_frames() -> list[str]:
    """The appends of one turn, encoded once and shared by every caller."""
    speech = scripted_speech(UTTERANCE)
    audio = speech + bytes(TURN_CHUNKS * CHUNK_BYTES - len(speech))
    return [
        json.dumps(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(audio[i : i + CHUNK_BYTES]).decode(),
            }
        )
        for i in range(0, len(audio), CHUNK_BYTES)
    ]


REPLY_AUDIO_BYTES = len(scripted_speech(REPLY))
SPEECH_STARTED = "input_audio_buffer.speech_started"
SPEECH_STOPPED = "input_audio_buffer.speech_stopped"


def frame_type(frame: str) -> str:
    """The top-level ``type``: the last key of the frame (checked; else a full parse)."""
    start = frame.rfind('"type":"')
    if start >= 0 and frame.endswith('"}'):
        value = frame[start + 8 : -2]
        if '"' not in value:
            return value
    return str(json.loads(frame)["type"])


@dataclass
class Caller:
    """What one caller sent and saw; ``recv_at`` holds one time per frame read."""

    session_id: str = ""
    sent_at: list[float] = field(default_factory=list)  # per chunk, chunk k = audio [100k, ..)
    recv_at: list[float] = field(default_factory=list)
    stopped: list[tuple[float, float]] = field(default_factory=list)  # (audio_end_ms, t)
    counts: dict[str, int] = field(default_factory=dict)
    reply_bytes: int = 0
    statuses: list[str] = field(default_factory=list)
    turns_sent: int = 0
    error: str = ""

    def eos_latencies_ms(self) -> list[float]:
        """Chunk that completed the silence window -> ``speech_stopped`` read."""
        result = []
        for audio_end_ms, t in self.stopped:
            k = math.ceil((audio_end_ms + SILENCE_MS) / CHUNK_MS) - 1
            if 0 <= k < len(self.sent_at):
                result.append((t - self.sent_at[k]) * 1000)
        return result

    def missing(self) -> int:
        return sum(self.missing_by_kind().values())

    def missing_by_kind(self) -> dict[str, int]:
        """Expected per-turn events that never came (each turn: one of each, one reply)."""
        expected = self.turns_sent
        short_audio = max(0, expected * REPLY_AUDIO_BYTES - self.reply_bytes)
        return {
            "speech_started": max(0, expected - self.counts.get(SPEECH_STARTED, 0)),
            "speech_stopped": max(0, expected - self.counts.get(SPEECH_STOPPED, 0)),
            "completed replies": max(0, expected - self.statuses.count("completed")),
            "reply audio": -(-short_audio // REPLY_AUDIO_BYTES),
        }


CLIENTS = ("raw", "websockets")  # bench/load_wire.py, or the websockets library's client


def note_frame(caller: Caller, now: float, frame: str) -> bool:
    """Write down one frame read at ``now``; True when it ends a reply."""
    caller.recv_at.append(now)
    kind = frame_type(frame)
    caller.counts[kind] = caller.counts.get(kind, 0) + 1
    if kind == "response.output_audio.delta":
        start = frame.index('"delta":"') + 9
        caller.reply_bytes += b64_decoded_length(frame[start : frame.index('"', start)])
    elif kind == SPEECH_STOPPED:
        caller.stopped.append((float(json.loads(frame)["audio_end_ms"]), now))
    elif kind == "response.done":
        caller.statuses.append(json.loads(frame)["response"]["status"])
        return True
    elif kind == "session.created":
        caller.session_id = json.loads(frame)["session"]["id"]
    return False


async def read_frames(ws: ClientConnection, caller: Caller, replied: asyncio.Event) -> None:
    async for frame in ws:
        assert isinstance(frame, str)
        if note_frame(caller, time.monotonic(), frame):
            replied.set()


async def run_caller(
    url: str,
    key: str,
    frames: list[str],
    start_at: float,
    turns: int,
    caller: Caller,
    rcvbuf: int = RCVBUF,
    client: str = "raw",
) -> None:
    """Stream ``turns`` turns from ``start_at`` (monotonic), then wait for the last reply.

    ``rcvbuf`` (0: the kernel's default) sizes the socket's receive buffer: see RCVBUF.
    ``client`` (one of CLIENTS) picks the WebSocket client; both keep the same books.
    """
    try:
        if client == "raw":
            await _run_raw(url, key, frames, start_at, turns, caller, rcvbuf)
        elif client == "websockets":
            await _run_websockets(url, key, frames, start_at, turns, caller, rcvbuf)
        else:
            raise ValueError(f"client {client!r}: choose one of {CLIENTS}")
    except Exception as exc:  # a failed caller is a result, not a crash
        caller.error = caller.error or f"{type(exc).__name__}: {exc}"


async def _run_websockets(
    url: str, key: str, frames: list[str], start_at: float, turns: int, caller: Caller, rcvbuf: int
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with connect(url, additional_headers=headers, compression=None) as ws:
        if rcvbuf:
            sock = ws.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        replied = asyncio.Event()
        reader = asyncio.create_task(read_frames(ws, caller, replied))
        try:
            await _converse(ws.send, SESSION_UPDATE, frames, start_at, turns, caller, replied)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def _run_raw(
    url: str, key: str, frames: list[str], start_at: float, turns: int, caller: Caller, rcvbuf: int
) -> None:
    replied = asyncio.Event()

    def on_text(now: float, frame: str) -> None:
        if note_frame(caller, now, frame):
            replied.set()

    wire = await open_wire(url, key, on_text, rcvbuf)
    try:
        update, appends = _wire_frames(frames)
        await wire.send(update)
        await paced_writes(wire, appends, start_at, turns, caller)
        await _await_replies(caller, replied, turns)
    finally:
        await wire.close()
    if wire.error:  # the cause first: a dropped connection also times out the reply wait
        caller.error = "; ".join(x for x in (wire.error, caller.error) if x)


_wire_cache: list[tuple[list[str], tuple[bytes, list[bytes]]]] = []


def _wire_frames(frames: list[str]) -> tuple[bytes, list[bytes]]:
    """``SESSION_UPDATE`` and ``frames`` masked once, shared while the same list is in use."""
    if not _wire_cache or _wire_cache[0][0] is not frames:
        update, *appends = client_frames([SESSION_UPDATE, *frames])
        _wire_cache[:] = [(frames, (update, appends))]
    return _wire_cache[0][1]


class Pacer:
    """One timer per distinct deadline, shared by every caller of a loop.

    The callers of a step start at evenly spread moments of the 2 s turn and
    write every 100 ms, so many share each deadline (at 250 callers, ten share
    each of 25 deadlines of 4 ms). A timer each would cost the generator a heap
    push and pop per append; here the callers due at the same moment (to the
    microsecond) are run by one timer, in the order they asked. Nobody's
    deadline moves by more than half a microsecond.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: dict[float, list[Callable[[], None]]] = {}

    def at(self, deadline: float, callback: Callable[[], None]) -> None:
        key = round(deadline, 6)
        waiting = self._due.get(key)
        if waiting is None:
            waiting = self._due[key] = []
            self._loop.call_at(key, self._run, key)
        waiting.append(callback)

    def _run(self, key: float) -> None:
        for callback in self._due.pop(key):
            callback()


_pacers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Pacer] = weakref.WeakKeyDictionary()


def pacer() -> Pacer:
    """The running loop's :class:`Pacer`."""
    loop = asyncio.get_running_loop()
    found = _pacers.get(loop)
    if found is None:
        found = _pacers[loop] = Pacer(loop)
    return found


def paced_writes(
    wire: WireConnection, frames: list[bytes], start_at: float, turns: int, caller: Caller
) -> asyncio.Future[None]:
    """The raw client's appends, each written at its deadline by the loop's :class:`Pacer`.

    The same absolute deadlines as ``_converse``, without a task waking per
    chunk or a timer per append: the least the event loop can do for hundreds
    of callers each on its own clock (``loop.time()`` is monotonic).
    """
    loop = asyncio.get_running_loop()
    clock = pacer()
    done: asyncio.Future[None] = loop.create_future()
    total, step = turns * len(frames), CHUNK_MS / 1000
    sent = 0

    def write_next() -> None:
        nonlocal sent
        if done.done():
            return
        if wire.paused:  # the server is not reading: wait for room, as a drain would
            wire.on_resume(write_next)
            return
        caller.sent_at.append(time.monotonic())
        try:
            wire.write(frames[sent % len(frames)])
        except WireError as exc:
            done.set_exception(exc)
            return
        sent += 1
        caller.turns_sent = sent // len(frames)
        if sent < total:
            clock.at(start_at + sent * step, write_next)
        else:
            done.set_result(None)

    clock.at(start_at, write_next)
    return done


async def _converse(
    send: Callable[[Any], Awaitable[None]],
    update: Any,
    frames: Sequence[Any],
    start_at: float,
    turns: int,
    caller: Caller,
    replied: asyncio.Event,
) -> None:
    """Configure, stream the turns at real-time pace, then wait for the last reply."""
    await send(update)
    for k in range(turns * len(frames)):
        await asyncio.sleep(max(0.0, start_at + k * CHUNK_MS / 1000 - time.monotonic()))
        caller.sent_at.append(time.monotonic())
        await send(frames[k % len(frames)])
        caller.turns_sent = (k + 1) // len(frames)
    await _await_replies(caller, replied, turns)


async def _await_replies(caller: Caller, replied: asyncio.Event, turns: int) -> None:
    try:
        await asyncio.wait_for(_replies(caller, replied, turns), REPLY_TIMEOUT_S)
    except TimeoutError:
        caller.error = "timed out waiting for the last reply"


async def _replies(caller: Caller, replied: asyncio.Event, turns: int) -> None:
    while len(caller.statuses) < turns:
        await replied.wait()
        replied.clear()
