"""WebRTC call setup and barge-in accuracy on loopback, against a WebSocket baseline.

For N rounds it opens a session with the SDK over a WebSocket and over a
WebRTC call (offer, ``POST /v1/realtime/calls``, ICE + DTLS + SCTP, the
``oai-events`` channel open, ``session.created``) against an in-process
rtagents server with the scripted engine, and prints the median open time of
each and their ratio. Then it interrupts a spoken reply with
``output_audio_buffer.clear`` and compares the server's ``audio_end_ms``
with what the caller actually heard (the tone code decodes character by
character, 50 ms each).

Run: ``.venv/bin/python bench/webrtc_call.py`` (``--quick`` for a short smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from rtagents import connect
from rtagents.client.webrtc_call import WebRTCCall
from rtagents.engines.scripted import Rule, Say, decode_audio, scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

REPLY = "A long spoken reply that the caller will interrupt part of the way through."


async def _open_ms(server: RunningServer, transport: str) -> float:
    opener = WebRTCCall(loopback=True) if transport == "webrtc" else "websocket"
    start = time.perf_counter()
    url = server.http_url if transport == "webrtc" else server.ws_url
    session = await connect(url, credentials=server.api_key, transport=opener)
    elapsed = (time.perf_counter() - start) * 1000
    await session.close()
    return elapsed


async def _barge_in(server: RunningServer, after_s: float) -> tuple[int, float]:
    """(server's audio_end_ms, ms the caller heard) for one interrupted reply."""
    call = WebRTCCall(loopback=True)
    heard = bytearray()
    async with connect(server.http_url, credentials=server.api_key, transport=call) as session:

        async def listen() -> None:
            async for chunk in call.audio():
                heard.extend(chunk)

        listener = asyncio.create_task(listen())
        await session.send_text("interrupt")
        started = asyncio.create_task(session.wait_for("output_audio_buffer.started"))
        await session.create_response()
        await started
        await asyncio.sleep(after_s)
        truncated = asyncio.create_task(session.wait_for("conversation.item.truncated"))
        await session.clear_output_audio()
        end_ms = (await truncated).audio_end_ms
        await asyncio.sleep(0.3)  # the last frames in flight
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    return end_ms, len(decode_audio(bytes(heard)).rstrip("\ufffd")) * 50.0


async def main(rounds: int) -> None:
    engines = scripted_engines([Rule("interrupt", Say(REPLY))])
    config = ServerConfig(port=0, webrtc_loopback=True)
    async with running_server(config, engines) as server:
        times: dict[str, list[float]] = {"websocket": [], "webrtc": []}
        for _ in range(rounds):
            for transport, samples in times.items():
                samples.append(await _open_ms(server, transport))
        ws, rtc = (statistics.median(times[t]) for t in ("websocket", "webrtc"))
        print(f"session open (median of {rounds}): websocket {ws:.1f} ms, webrtc {rtc:.1f} ms")
        print(f"webrtc / websocket: {rtc / ws:.1f}x")
        for after_s in (0.4, 0.9):
            end_ms, heard_ms = await _barge_in(server, after_s)
            print(
                f"barge-in after {after_s:.1f} s: truncated at {end_ms} ms, caller heard "
                f"{heard_ms:.0f} ms (difference {end_ms - heard_ms:+.0f} ms, one character = 50)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 20")
    args = parser.parse_args()
    asyncio.run(main(3 if args.quick else 20))
