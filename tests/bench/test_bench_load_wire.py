"""The load generator's lean WebSocket client (bench/load_wire.py) reads what websockets reads.

Frame parsing is checked on hand-built server frames split at every byte
boundary; the handshake, ping and close against a real ``websockets`` server
on loopback; and a short real sitting of the bench server run with both
clients must give every caller the same events, the same reply audio and
nothing lost. No timing is asserted.
"""

from __future__ import annotations

import asyncio
import base64
import sys
import time
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from load import ServerProcess  # noqa: E402
from load_client import Caller, note_frame, paced_writes, pacer, run_caller, turn_frames  # noqa: E402
from load_wire import (  # noqa: E402
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    TEXT,
    FrameReader,
    WireError,
    accept_for,
    apply_mask,
    client_frame,
    open_wire,
)


def server_frame(opcode: int, payload: bytes, *, final: bool = True) -> bytes:
    """An unmasked frame as a server sends it (written here apart from the module's encoder)."""
    first = (0x80 if final else 0) | opcode
    if len(payload) < 126:
        return bytes([first, len(payload)]) + payload
    if len(payload) < 65536:
        return bytes([first, 126]) + len(payload).to_bytes(2, "big") + payload
    return bytes([first, 127]) + len(payload).to_bytes(8, "big") + payload


SMALL = b'{"type":"session.created"}'
MEDIUM = b'{"delta":"' + b"A" * 300 + b'"}'  # 16-bit length
LARGE = bytes(range(256)) * 257  # 65,792 bytes: 64-bit length
STREAM = [
    server_frame(TEXT, SMALL),
    server_frame(TEXT, MEDIUM),
    server_frame(TEXT, b"frag", final=False),
    server_frame(PING, b"are you there"),  # a control frame between fragments
    server_frame(CONTINUATION, b"men", final=False),
    server_frame(CONTINUATION, b"ted", final=True),
    server_frame(BINARY, b""),
    server_frame(CLOSE, (1000).to_bytes(2, "big") + b"bye"),
]
EXPECTED = [
    (TEXT, SMALL),
    (TEXT, MEDIUM),
    (PING, b"are you there"),
    (TEXT, b"fragmented"),
    (BINARY, b""),
    (CLOSE, (1000).to_bytes(2, "big") + b"bye"),
]


def test_frames_split_at_every_byte_boundary_come_out_whole_and_in_order() -> None:
    stream = b"".join(STREAM)
    for cut in range(len(stream) + 1):
        reader = FrameReader()
        assert reader.feed(stream[:cut]) + reader.feed(stream[cut:]) == EXPECTED, cut


def test_frames_fed_one_byte_at_a_time_come_out_whole() -> None:
    stream = b"".join(STREAM)
    reader = FrameReader()
    out = [message for i in range(len(stream)) for message in reader.feed(stream[i : i + 1])]
    assert out == EXPECTED


def test_a_64_bit_length_frame_split_anywhere_in_its_header_or_payload() -> None:
    frame = server_frame(TEXT, LARGE) + server_frame(TEXT, SMALL)
    assert frame[1] == 127
    cuts = [*range(12), 5000, 65_000, len(frame) - len(SMALL) - 3, len(frame) - 1]
    for cut in cuts:
        reader = FrameReader()
        assert reader.feed(frame[:cut]) + reader.feed(frame[cut:]) == [
            (TEXT, LARGE),
            (TEXT, SMALL),
        ], cut
    reader = FrameReader()
    out = [m for i in range(0, len(frame), 1000) for m in reader.feed(frame[i : i + 1000])]
    assert out == [(TEXT, LARGE), (TEXT, SMALL)]


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (bytes([0x81, 0x82]) + b"mask" + b"hi", "must not be masked"),
        (bytes([0xC1, 0x02]) + b"hi", "reserved bits"),
        (server_frame(PING, b"x" * 126), "over 125 bytes"),
        (server_frame(PING, b"x", final=False), "fragmented"),
        (server_frame(CONTINUATION, b"x"), "without a message"),
        (server_frame(TEXT, b"a", final=False) + server_frame(TEXT, b"b"), "new message began"),
        (bytes([0x83, 0x00]), "unknown opcode"),
        (server_frame(TEXT, b"x" * 70), "over 64 bytes"),
    ],
)
def test_protocol_violations_raise_a_specific_error(frame: bytes, why: str) -> None:
    with pytest.raises(WireError, match=why):
        FrameReader(max_message=64).feed(frame)


def test_client_frames_are_masked_and_unmask_to_the_payload() -> None:
    mask = b"\x01\x02\x03\x04"
    for size, head in ((5, 2), (300, 4), (70_000, 10)):
        payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
        frame = client_frame(TEXT, payload, mask)
        assert frame[0] == 0x81 and frame[1] & 0x80  # final text, masked
        assert frame[head : head + 4] == mask
        assert apply_mask(frame[head + 4 :], mask) == payload
    assert client_frame(CLOSE, b"", mask) == bytes([0x88, 0x80]) + mask


async def test_handshake_ping_and_close_against_a_real_websockets_server() -> None:
    seen: dict[str, object] = {}

    def check_request(connection: ServerConnection, request: Request) -> Response | None:
        seen["auth"] = request.headers.get("Authorization")
        seen["extensions"] = request.headers.get("Sec-WebSocket-Extensions")
        return None

    async def handler(ws: ServerConnection) -> None:
        await ws.send("hello")
        await ws.send(["frag", "mented"])  # one message in three frames
        pong = await ws.ping(b"ping-data")
        await asyncio.wait_for(pong, 10)  # our client answered with a pong
        seen["received"] = await ws.recv()
        await ws.close(1000, "done")
        reply = ws.protocol.close_rcvd  # the close frame our client answered with
        seen["close_reply"] = reply.code if reply else None

    texts: list[str] = []
    async with serve(handler, "127.0.0.1", 0, process_request=check_request) as server:
        port = server.sockets[0].getsockname()[1]
        wire = await open_wire(
            f"ws://127.0.0.1:{port}/v1/realtime?model=x", "sk-test", lambda _t, s: texts.append(s)
        )
        await wire.send(client_frame(TEXT, b"from the client"))
        await asyncio.wait_for(asyncio.shield(wire.closed), 10)  # the server closed
        await wire.close()
    assert seen == {
        "auth": "Bearer sk-test",
        "extensions": None,
        "received": "from the client",
        "close_reply": 1000,
    }
    assert texts == ["hello", "fragmented"] and wire.error == ""


async def test_a_wrong_accept_key_fails_the_upgrade_with_a_clear_error() -> None:
    async def bogus(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        wrong = base64.b64encode(b"not the right digest").decode()
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + wrong.encode() + b"\r\n\r\n"
        )
        await writer.drain()
        await reader.read()  # until the client hangs up
        writer.close()

    server = await asyncio.start_server(bogus, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(WireError, match="Sec-WebSocket-Accept does not match"):
            await open_wire(f"ws://127.0.0.1:{port}/", "k", lambda _t, _s: None)


async def test_both_clients_see_the_same_sitting_of_the_real_bench_server() -> None:
    server = ServerProcess(stamps=True)
    try:
        frames, url, key = turn_frames(), server.ws_url, server.api_key
        seen: dict[str, list[Caller]] = {}
        for client in ("websockets", "raw"):
            callers = [Caller() for _ in range(3)]
            start = time.monotonic() + 0.5
            await asyncio.gather(
                *(
                    run_caller(url, key, frames, start + i * 0.3, 2, caller, client=client)
                    for i, caller in enumerate(callers)
                )
            )
            stamps = await server.stamps()
            for caller in callers:
                assert caller.error == "" and caller.session_id.startswith("sess_"), caller
                assert caller.missing() == 0, caller.missing_by_kind()
                assert len(caller.recv_at) == len(stamps[caller.session_id])  # no frame lost
            seen[client] = callers
    finally:
        server.stop()
    reference = seen["websockets"][0]
    assert reference.counts["response.done"] == 2 and reference.reply_bytes > 0
    for caller in seen["websockets"] + seen["raw"]:
        assert caller.counts == reference.counts
        assert caller.reply_bytes == reference.reply_bytes
        assert caller.turns_sent == 2 and len(caller.stopped) == 2


async def test_a_caller_whose_server_closes_early_reports_why_instead_of_crashing() -> None:
    async def closer(ws: ServerConnection) -> None:
        await ws.close(1011, "overloaded")

    async with serve(closer, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        caller = Caller()
        await run_caller(url, "k", turn_frames(), time.monotonic(), 1, caller, client="raw")
    assert "closed by the server: 1011" in caller.error and caller.turns_sent == 0


async def test_paced_writes_wait_while_the_server_does_not_read_then_send_everything() -> None:
    size = 1 << 20  # 6 MiB in all: more than the kernel buffers for a peer that does not read
    frames = [client_frame(BINARY, bytes(size))] * 3
    total = 2 * len(frames) * (size + 14)  # 64-bit length header and mask: 14 bytes
    reading, all_read = asyncio.Event(), asyncio.Event()

    async def slow_reader(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        key = next(x for x in head.split("\r\n") if x.startswith("Sec-WebSocket-Key:"))
        accept = accept_for(key.split(":", 1)[1].strip()).encode()
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        await reading.wait()
        await reader.readexactly(total)
        all_read.set()
        writer.close()

    server = await asyncio.start_server(slow_reader, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        wire = await open_wire(f"ws://127.0.0.1:{port}/", "k", lambda _t, _s: None)
        caller = Caller()
        done = paced_writes(wire, frames, time.monotonic() - 1, 2, caller)  # all due now
        for _ in range(600):  # until the first write fills the buffers (progress, not time)
            if wire.paused:
                break
            await asyncio.sleep(0.05)
        assert wire.paused and not done.done()
        assert len(caller.sent_at) < 2 * len(frames)  # the rest waits for room
        reading.set()
        await asyncio.wait_for(done, 60)
        await asyncio.wait_for(all_read.wait(), 60)
        await wire.close()
    assert len(caller.sent_at) == 2 * len(frames) and caller.turns_sent == 2


async def test_callers_due_at_the_same_moment_share_one_timer_and_keep_their_order() -> None:
    clock, ran = pacer(), []
    now = asyncio.get_running_loop().time()
    # 0.1 + 0.2 and 0.3 differ in the last bits, as two callers' deadlines do
    clock.at(now + 0.1 + 0.2, lambda: ran.append("a"))
    clock.at(now + 0.3, lambda: ran.append("b"))
    clock.at(now + 0.05, lambda: ran.append("first"))
    clock.at(now + 0.3 + 1e-9, lambda: ran.append("c"))
    assert len(clock._due) == 2  # two moments, two timers
    await asyncio.sleep(0.4)
    assert ran == ["first", "a", "b", "c"] and not clock._due


@pytest.mark.parametrize("size", range(0, 13))
def test_reply_audio_is_counted_as_the_payload_decodes(size: int) -> None:
    payload = base64.b64encode(bytes(range(size))).decode()
    frame = f'{{"delta":"{payload}","event_id":"e","type":"response.output_audio.delta"}}'
    caller = Caller()
    note_frame(caller, 0.0, frame)
    assert caller.reply_bytes == size == len(base64.b64decode(payload))
