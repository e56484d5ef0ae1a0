"""Server memory after oversized data channel messages from a caller that ignores the limit.

Starts ``rtagents serve --engine scripted --webrtc-loopback`` as its own
process (so only the server's memory is measured), opens one call with a raw
aiortc peer, raises the peer's idea of the server's ``a=max-message-size`` to
64 MiB (a hostile caller), and sends N ``conversation.item.create`` messages
of SIZE bytes each, each followed by a small one whose echo shows the session
goes on. Prints the server's RSS before, after the first, after all, its peak
(VmHWM), and the error codes and event_ids the big messages got.

Run: ``.venv/bin/python bench/webrtc_message_rss.py`` (``--count 6 --size 8000000``);
to measure another checkout, put its ``src`` first:
``PYTHONPATH=/path/to/checkout/src .venv/bin/python bench/webrtc_message_rss.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription

from rtagents.transports.webrtc import loopback_candidates, rtc_configuration
from rtagents.transports.webrtc_audio import PacedAudioTrack

SERVE = "import sys; from rtagents.cli.main import main; sys.exit(main())"


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def item_create(text: str, event_id: str) -> str:
    content = [{"type": "input_text", "text": text}]
    item = {"type": "message", "role": "user", "content": content}
    return json.dumps({"type": "conversation.item.create", "event_id": event_id, "item": item})


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(150):
            try:
                await http.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.2)
    raise RuntimeError("the server did not start")


async def open_call(base: str) -> tuple[RTCPeerConnection, Any, asyncio.Queue[str]]:
    pc = RTCPeerConnection(rtc_configuration())
    channel = pc.createDataChannel("oai-events")
    pc.addTrack(PacedAudioTrack())
    received: asyncio.Queue[str] = asyncio.Queue()
    channel.on("message", received.put_nowait)
    with loopback_candidates():
        await pc.setLocalDescription(await pc.createOffer())
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/sdp"}
    async with httpx.AsyncClient() as http:
        reply = await http.post(
            f"{base}/v1/realtime/calls", content=pc.localDescription.sdp, headers=headers
        )
    await pc.setRemoteDescription(RTCSessionDescription(sdp=reply.text, type="answer"))
    while "conversation.created" not in await asyncio.wait_for(received.get(), 30):
        pass
    pc.sctp._remote_max_message_size = 64 * 2**20  # a caller that ignores the limit
    return pc, channel, received


async def measure(pid: int, port: int, count: int, size: int) -> None:
    base = f"http://127.0.0.1:{port}"
    await wait_ready(base)
    pc, channel, received = await open_call(base)
    await asyncio.sleep(1)
    before, after_first, refusals = rss_mb(pid), 0.0, []
    for index in range(count):
        channel.send(item_create("x" * size, f"evt_big_{index}"))
        channel.send(item_create("hi", f"evt_small_{index}"))
        while True:
            event = json.loads(await asyncio.wait_for(received.get(), 300))
            if event["type"] == "error":
                refusals.append((event["error"]["code"], event["error"].get("event_id")))
            if event["type"] == "conversation.item.added":
                if event["item"]["content"][0].get("text") == "hi":
                    break
        await asyncio.sleep(0.5)
        after_first = after_first or rss_mb(pid)
    print(
        f"server RSS: before {before:.0f} MB, after one {size / 1e6:g} MB message "
        f"{after_first:.0f} MB, after {count} {rss_mb(pid):.0f} MB, "
        f"peak {rss_mb(pid, 'VmHWM'):.0f} MB"
    )
    print(f"errors ({len(refusals)}): {refusals}")
    await pc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--size", type=int, default=8_000_000)
    args = parser.parse_args()
    port = free_port()
    command = [sys.executable, "-c", SERVE, "serve", "--engine", "scripted", "--port", str(port)]
    command += ["--api-key", "bench", "--webrtc-loopback", "--log-level", "WARNING"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        asyncio.run(measure(server.pid, port, args.count, args.size))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
