"""Every rtagents transport passes the public conformance suite (rtagents.testing.conformance).

Each check runs with each transport as the end under test: the in-memory
pair, the WebSocket client and the server's Starlette WebSocket (the two ends
of one real loopback connection through uvicorn), and the WebRTC data channel.
"""

from __future__ import annotations

import pytest
from transport_pairs import PAIRS

from rtagents.testing.conformance import CHECKS, Check, NotApplicable, PairFactory

# What each transport cannot do, so a check that needs it is skipped, not silently passed.
NOT_APPLICABLE = {
    ("server_ws", "check_abort"),  # ASGI gives the server no way to drop the TCP link
    ("webrtc", "check_abort"),  # a data channel closes; a lost link is the owner's lost()
    ("memory", "check_oversized_incoming"),  # no size limit in memory
    ("memory", "check_oversized_outgoing"),
    ("websocket", "check_oversized_outgoing"),  # WebSocket: the receiver enforces the limit
    ("server_ws", "check_oversized_outgoing"),
    ("webrtc", "check_oversized_incoming"),  # a data channel: the sender enforces it
}


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("transport", sorted(PAIRS))
async def test_the_transport_conforms(transport: str, check: Check) -> None:
    make_pair: PairFactory = PAIRS[transport]
    expected_to_apply = (transport, check.__name__) not in NOT_APPLICABLE
    try:
        await check(make_pair)
    except NotApplicable as why:
        assert not expected_to_apply, f"{check.__name__} should apply to {transport}: {why}"
        pytest.skip(str(why))
    assert expected_to_apply, f"{check.__name__} ran on {transport}, which cannot do it"
