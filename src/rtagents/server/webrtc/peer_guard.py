"""Keeping aiortc's failures inside one call: its background tasks, its close, its silence.

aiortc starts tasks of its own (``RTCPeerConnection.__connect``) that nobody
awaits; when an odd offer makes one fail, asyncio reports "Task exception was
never retrieved" long after the request was answered. After a failed
``createAnswer``, ``close()`` itself can raise part-way. And a caller that
vanishes (killed, off the network) is noticed by ICE consent only after
about 35 s. The helpers here adopt those tasks, close quietly, count what
the caller still sends, and set the ``a=max-message-size`` the server keeps.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiortc import RTCPeerConnection

log = logging.getLogger("rtagents.server.webrtc.call")
T = TypeVar("T")
_MAX_MESSAGE_SIZE = re.compile(r"^a=max-message-size:\d+$", re.MULTILINE)


async def contained(pc: RTCPeerConnection, step: Awaitable[T], call_id: str) -> T:
    """Await one aiortc ``step``; any task it started for ``pc`` has its failure logged.

    The adoption happens as soon as the step returns or raises, before the
    loop runs anything else, so a task that fails on its first run is caught.
    """
    before = asyncio.all_tasks()
    try:
        return await step
    finally:
        for task in asyncio.all_tasks() - before:
            frame = getattr(task.get_coro(), "cr_frame", None)
            if frame is not None and frame.f_locals.get("self") is pc:
                task.add_done_callback(lambda done: _retrieve(done, call_id))


def _retrieve(task: asyncio.Task[Any], call_id: str) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.info("call %s: aiortc's %s failed: %r", call_id, task.get_name(), task.exception())


def unanswerable(exc: Exception) -> str:
    """Why aiortc could not answer, never empty (it often raises a bare assertion)."""
    detail = str(exc).strip() or "no detail given"
    return (
        f"The SDP offer could not be answered: aiortc raised {type(exc).__name__} ({detail}). "
        "Send pc.localDescription.sdp exactly as createOffer()/setLocalDescription() made it."
    )


async def close_quietly(pc: RTCPeerConnection, call_id: str) -> None:
    """Close the peer connection; aiortc's own failure to (a half-set-up one) is only logged.

    After a failed ``createAnswer`` some of its transports may never have been
    made, and ``close`` then raises part-way: nothing had started, and the
    call must still end.
    """
    try:
        await contained(pc, pc.close(), call_id)
    except Exception as exc:
        log.info("call %s: closing the peer connection failed: %r", call_id, exc)
        pc.remove_all_listeners()


def with_max_message_size(sdp: str, limit: int) -> str:
    """The answer, advertising ``limit`` as the largest data channel message it accepts."""
    return _MAX_MESSAGE_SIZE.sub(f"a=max-message-size:{limit}", sdp.replace("\r\n", "\n")).replace(
        "\n", "\r\n"
    )


async def packets_received(pc: RTCPeerConnection) -> int:
    """Packets (SRTP, SRTCP, SCTP) received so far on the call's DTLS transports.

    A live caller always sends some: audio, receiver reports for the server's
    track (which always plays, silence included), data channel acks.
    """
    report = await pc.getStats()
    return sum(
        int(getattr(stats, "packetsReceived", 0) or 0)
        for stats in report.values()
        if getattr(stats, "type", None) == "transport"
    )
