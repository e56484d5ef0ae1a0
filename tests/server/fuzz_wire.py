"""The fuzz run's transports: WebSocket lanes, WebRTC data channel lanes, HTTP bodies.

Each talks to a real server process (:class:`ServerProcess`) the way any
client would: ``websockets`` for the WebSocket, an aiortc peer for the data
channel (it ignores the advertised message size, as a hostile peer would, so
oversized messages reach the server's own check), ``httpx`` for the endpoints.
"""

from __future__ import annotations

import asyncio
import json
import random
from functools import partial
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from fuzz_lanes import SETUP, Findings, Hang, Ledger, run_batches
from fuzz_mutations import Mutator
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtagents.testing.server_process import ServerProcess
from rtagents.transports.webrtc import loopback_candidates, rtc_configuration
from rtagents.transports.webrtc_audio import PacedAudioTrack

OPEN_S = 20.0
DRAIN_S = 90.0  # as long as a probe may take before it counts as a hang


async def ws_lane(
    server: ServerProcess, lane: str, seed: int, count: int, findings: Findings, rotate: int
) -> None:
    """``count`` mutated events over WebSockets, a new session every ``rotate`` events."""
    mutator = Mutator(seed)
    headers = {"Authorization": f"Bearer {server.api_key}"}
    done = 0
    session = 0
    while done < count:
        name = f"{lane}s{session}"
        ledger = Ledger(name, findings)
        url = f"{server.ws_url}?model=gpt-realtime"
        async with connect(url, additional_headers=headers, max_size=None) as ws:
            await ws.send(json.dumps(SETUP))
            reader = asyncio.create_task(_read_ws(ws, ledger))
            try:
                done += await run_batches(
                    name, ledger, mutator, min(rotate, count - done), 200, ws.send, findings, "ws"
                )
            except ConnectionClosed as closed:
                findings.closes.append(f"{name}: the server closed the session: {closed}")
                return
            except Hang:
                return
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
        session += 1


async def _read_ws(ws: Any, ledger: Ledger) -> None:
    async for raw in ws:
        ledger.feed(raw)


async def dc_lane(
    server: ServerProcess, lane: str, seed: int, count: int, findings: Findings, per_call: int
) -> None:
    """``count`` mutated events over data channels, a new call every ``per_call`` events."""
    mutator = Mutator(seed, huge_max=300 * 1024)  # past the 256 KiB the server advertises
    done = 0
    call = 0
    while done < count:
        name = f"{lane}c{call}"
        ledger = Ledger(name, findings)
        pc = RTCPeerConnection(rtc_configuration())
        track = PacedAudioTrack()
        try:
            channel = await _call(server, pc, track, findings, name)
            if channel is None:
                return
            channel.on("message", ledger.feed)
            channel.send(json.dumps(SETUP))
            send = ChannelSender(channel)
            try:
                done += await run_batches(
                    name,
                    ledger,
                    mutator,
                    min(per_call, count - done),
                    50,
                    send,
                    findings,
                    "dc",
                    partial(_channel_state, pc, channel),
                )
            except Hang:
                return
            except ConnectionError as closed:
                findings.closes.append(f"{name}: {closed}")
                return
            except TimeoutError:
                state = _channel_state(pc, channel)
                findings.hangs.append(
                    f"{name}: the data channel did not drain in {DRAIN_S} s; {state}"
                )
                return
        finally:
            track.stop()
            await pc.close()
        call += 1


def _channel_state(pc: Any, channel: Any) -> str:
    """What the client's side of a call looks like, for a hang's report."""
    return (
        f"channel {channel.readyState}, {channel.bufferedAmount} bytes still queued to send, "
        f"connection {pc.connectionState}, SCTP {pc.sctp.state}"
    )


class ChannelSender:
    """Sends on a data channel, waiting while more than 1 MiB is queued (bounded, not dropped)."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.drained = asyncio.Event()
        channel.bufferedAmountLowThreshold = 256 * 1024
        channel.on("bufferedamountlow", self.drained.set)

    async def __call__(self, payload: str | bytes) -> None:
        if self.channel.readyState != "open":
            raise ConnectionError(f"the data channel is {self.channel.readyState}")
        self.channel.send(payload)
        if self.channel.bufferedAmount > 1 << 20:
            self.drained.clear()
            await asyncio.wait_for(self.drained.wait(), DRAIN_S)


async def _call(
    server: ServerProcess, pc: Any, track: PacedAudioTrack, findings: Findings, name: str
) -> Any:
    """The open events channel of a new call (None, with a finding, if none opened)."""
    channel = pc.createDataChannel("oai-events")
    pc.addTrack(track)
    opened = asyncio.Event()
    channel.on("open", opened.set)
    with loopback_candidates():
        await pc.setLocalDescription(await pc.createOffer())
    headers = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/sdp"}
    async with httpx.AsyncClient(trust_env=False, timeout=OPEN_S) as http:
        reply = await http.post(
            f"{server.http_url}/v1/realtime/calls", content=pc.localDescription.sdp, headers=headers
        )
    if reply.status_code != 201:
        findings.closes.append(f"{name}: a valid offer got {reply.status_code}: {reply.text[:200]}")
        return None
    await pc.setRemoteDescription(RTCSessionDescription(sdp=reply.text, type="answer"))
    try:
        await asyncio.wait_for(opened.wait(), OPEN_S)
    except TimeoutError:
        findings.closes.append(f"{name}: the data channel did not open within {OPEN_S} s")
        return None
    # A hostile peer ignores the advertised a=max-message-size; the server must enforce it.
    pc.sctp._remote_max_message_size = 0
    return channel


async def offer_sdp() -> str:
    """A real aiortc offer (events channel + audio), to mutate."""
    pc = RTCPeerConnection(rtc_configuration())
    track = PacedAudioTrack()
    try:
        pc.createDataChannel("oai-events")
        pc.addTrack(track)
        with loopback_candidates():
            await pc.setLocalDescription(await pc.createOffer())
        sdp: str = pc.localDescription.sdp
        return sdp
    finally:
        track.stop()
        await pc.close()


def _mutate_text(rng: random.Random, text: str) -> str | bytes:
    lines = text.split("\r\n")
    choice = rng.randrange(8)
    if choice == 0:  # drop a line (fingerprint, ice-ufrag, mid, m=...)
        del lines[rng.randrange(len(lines))]
    elif choice == 1:  # a mid that is not in the BUNDLE group
        lines = [ln.replace("a=mid:0", "a=mid:9") for ln in lines]
    elif choice == 2:
        index = rng.randrange(len(lines))
        lines[index] = lines[index][: rng.randrange(len(lines[index]) + 1)] + "\x00"
    elif choice == 3:
        return text[: rng.randrange(len(text))]
    elif choice == 4:
        raw = bytearray(text.encode())
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return bytes(raw)
    elif choice == 5:
        lines = [ln for ln in lines if not ln.startswith("a=fingerprint")]
    elif choice == 6:
        index = rng.randrange(len(lines))
        lines.insert(index, lines[index] * rng.choice([2, 1000]))
    else:
        lines = [ln for ln in lines if not ln.startswith("m=application")]
    return "\r\n".join(lines)


def _mutate_json(rng: random.Random, body: dict[str, Any]) -> str | bytes:
    mutator = Mutator(rng.randrange(2**32))
    mutate = mutator.rng.choices(mutator._functions, mutator._weights)[0]
    payload: str | bytes = mutate(json.loads(json.dumps(body)))
    return payload


CHAT = {"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
MINT = {"session": {"type": "realtime", "model": "gpt-realtime", "instructions": "Hi."}}


async def http_bodies(
    server: ServerProcess, seed: int, count: int, calls: int, findings: Findings
) -> None:
    """``count`` mutated bodies to the JSON endpoints and ``calls`` mutated SDP offers."""
    rng = random.Random(seed)
    sdp = await offer_sdp()
    headers = {"Authorization": f"Bearer {server.api_key}"}
    jobs: list[tuple[str, dict[str, str], str | bytes]] = []
    for _ in range(count):
        path, body = rng.choice(
            [("/v1/chat/completions", CHAT), ("/v1/realtime/client_secrets", MINT)]
        )
        jobs.append((path, {"Content-Type": "application/json"}, _mutate_json(rng, body)))
    for _ in range(calls):
        jobs.append(
            ("/v1/realtime/calls", {"Content-Type": "application/sdp"}, _mutate_text(rng, sdp))
        )
    rng.shuffle(jobs)
    queue: asyncio.Queue[tuple[str, dict[str, str], str | bytes]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    limits = httpx.Limits(max_connections=4)
    async with httpx.AsyncClient(trust_env=False, timeout=OPEN_S, limits=limits) as http:
        workers = [_http_worker(http, server, headers, queue, findings) for _ in range(4)]
        await asyncio.gather(*workers)


async def _http_worker(
    http: httpx.AsyncClient,
    server: ServerProcess,
    headers: dict[str, str],
    queue: asyncio.Queue[tuple[str, dict[str, str], str | bytes]],
    findings: Findings,
) -> None:
    while not queue.empty():
        path, extra, body = queue.get_nowait()
        content = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        try:
            reply = await http.post(
                server.http_url + path, content=content, headers={**headers, **extra}
            )
        except httpx.HTTPError as exc:  # no answer at all: dropped (or hung, if timed out)
            into = findings.hangs if isinstance(exc, httpx.TimeoutException) else findings.http_5xx
            findings.sample(into, f"POST {path}: {type(exc).__name__} {exc} body {content[:200]!r}")
            findings.http_status[f"{path} {type(exc).__name__}"] += 1
            continue
        findings.http_status[f"{path} {reply.status_code}"] += 1
        findings.sent["http"] += 1
        if reply.status_code >= 500 and reply.status_code != 503:
            findings.sample(
                findings.http_5xx,
                f"POST {path} -> {reply.status_code} {reply.text[:200]!r} body {content[:200]!r}",
            )
        elif reply.status_code == 201 and path.endswith("/calls"):
            location = reply.headers.get("location", "")
            await http.post(server.http_url + location + "/hangup", headers=headers)
