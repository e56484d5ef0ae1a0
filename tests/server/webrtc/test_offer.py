"""Malformed and unconnectable SDP offers, posted to a live server: each a 4xx that says why.

Every variant starts from a real aiortc offer and breaks one thing, as a
hostile or buggy caller would. None may get a 500, a call that can never
connect, or an error left in the background for the loop to report.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from webrtc_peer import make_offer, no_background_errors, post_offer

from rtagents.engines.scripted import scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.server.webrtc.offer import OfferProblem, check_offer
from rtagents.transports.webrtc import rtc_configuration

Break = Callable[[str], str]


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, webrtc_loopback=True, call_connect_timeout_s=2.0)
    async with running_server(config, scripted_engines()) as running:
        yield running


async def _offer(*, audio: bool = True) -> str:
    pc = RTCPeerConnection(rtc_configuration())
    await make_offer(pc, audio=audio)
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


def _without(prefix: str) -> Break:
    return lambda sdp: "\r\n".join(x for x in sdp.split("\r\n") if not x.startswith(prefix))


BROKEN: list[tuple[str, Break, str]] = [
    ("audio mid not in BUNDLE", lambda s: s.replace("a=mid:0", "a=mid:7"), "lists mid '0'"),
    (
        "section left out of BUNDLE",
        lambda s: s.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 1"),
        "a=group:BUNDLE (1) does not list",
    ),
    ("NUL byte", lambda s: s.replace("s=-", "s=\x00"), "control character (U+0000) on line 3"),
    ("no fingerprint", _without("a=fingerprint"), "no a=fingerprint for m=audio"),
    (
        "unusable fingerprint",
        lambda s: s.replace("a=fingerprint:sha-", "a=fingerprint:md-"),
        "supported algorithm",
    ),
    ("no ICE credentials", _without("a=ice-ufrag"), "no a=ice-ufrag"),
    ("bad DTLS role", lambda s: s.replace("a=setup:actpass", "a=setup:boss"), "a=setup"),
    ("broken m= line", lambda s: s.replace(" UDP/DTLS/SCTP", ""), "not a valid m= line"),
    ("stray line", lambda s: s.replace("t=0 0", "t=0 0\r\nnonsense"), "not an SDP line"),
    ("garbage", lambda s: "hello", "not an SDP offer"),
    ("no candidates, yet complete", _without("a=candidate"), "without listing any"),
    ("no RTCP mux", _without("a=rtcp-mux"), "RTCP mux is not enabled"),
    (
        "payload type out of range",
        lambda s: s.replace("96 9 0 8", "96 9 0 300"),
        "aiortc raised AssertionError (no detail given)",
    ),
]


@pytest.mark.parametrize(("name", "breaks", "words"), BROKEN, ids=[b[0] for b in BROKEN])
async def test_a_broken_offer_is_a_400_that_says_why(
    server: RunningServer, name: str, breaks: Break, words: str
) -> None:
    sdp = breaks(await _offer())
    async with no_background_errors():
        reply = await post_offer(server, sdp)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_offer", "sdp")
    assert words in error["message"], error["message"]
    assert not server.app.state.rtagents.calls


async def test_an_offer_without_audio_is_refused(server: RunningServer) -> None:
    async with no_background_errors():
        reply = await post_offer(server, await _offer(audio=False))
    assert reply.status_code == 400
    assert "no audio section (m=audio)" in reply.json()["error"]["message"]


async def test_oversized_bodies_and_other_content_types_are_refused(server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    url = f"{server.http_url}/v1/realtime/calls"
    padded = await _offer() + "a=x-pad:" + "x" * 300_000 + "\r\n"
    async with no_background_errors(), httpx.AsyncClient() as http:
        huge = await post_offer(server, padded)
        typed = await http.post(
            url, content=b"v=0", headers={**headers, "Content-Type": "application/json"}
        )
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "request_too_large"
    assert typed.status_code == 415
    assert typed.json()["error"]["code"] == "unsupported_media_type"
    assert "application/json" in typed.json()["error"]["message"]


async def test_a_good_offer_passes_the_checks_unchanged() -> None:
    check_offer(await _offer())  # raises nothing
    # A browser's early offer (no candidates yet, none promised complete) connects by
    # its checks reaching the server's candidates: accepted.
    check_offer(_without("a=end-of-candidates")(_without("a=candidate")(await _offer())))
    with pytest.raises(OfferProblem, match="no data channel"):
        check_offer("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n")
    with pytest.raises(OfferProblem, match="repeats a=mid:0"):
        sdp = await _offer()
        check_offer(sdp.replace("a=mid:1", "a=mid:0").replace("BUNDLE 0 1", "BUNDLE 0"))


async def test_an_offer_with_no_candidates_yet_connects(server: RunningServer) -> None:
    pc = RTCPeerConnection(rtc_configuration())
    channel, _ = await make_offer(pc)
    early = _without("a=end-of-candidates")(_without("a=candidate")(pc.localDescription.sdp))
    opened = asyncio.Event()
    channel.on("open", opened.set)
    try:
        reply = await post_offer(server, early)
        assert reply.status_code == 201, reply.text
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply.text, type="answer"))
        await asyncio.wait_for(opened.wait(), 20)  # the server learns the caller from its checks
    finally:
        await pc.close()
