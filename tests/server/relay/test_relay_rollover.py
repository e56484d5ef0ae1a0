"""The upstream's session cap rolls over: a new upstream session before it, same conversation.

Both servers read one :class:`FakeClock`, so the upstream's ``expires_at`` and
the relay's rollover timer agree, and the test moves time instead of waiting.
"""

from __future__ import annotations

import json

from relay_harness import relay_rig, until
from server_harness import session

from rtagents.protocol.codec import decode_client_event
from rtagents.server.config import ServerConfig
from rtagents.server.relay.relay_backend import RelayBackend
from rtagents.server.relay.upstream_rollover import MIN_UPSTREAM_LIFE_S
from rtagents.testing.clock import FakeClock
from rtagents.testing.faults import Fault

UPSTREAM_CAP_S = 600.0
MARGIN_S = 60.0
SPOKEN_ID = "item_said_meanwhile"


def _rebuilds(metrics: object, reason: str) -> float:
    counter = metrics.upstream_rebuilds  # type: ignore[attr-defined]
    return float(counter.labels(reason=reason)._value.get())


async def test_the_upstream_rolls_over_before_its_cap_and_the_session_goes_on() -> None:
    clock = FakeClock()
    upstream_config = ServerConfig(
        port=0, clock=clock, sleep=clock.sleep, session_cap_s=UPSTREAM_CAP_S
    )
    relay_config = ServerConfig(port=0, clock=clock, sleep=clock.sleep)
    async with (
        relay_rig(
            upstream_config=upstream_config,
            relay_config=relay_config,
            rollover_margin_s=MARGIN_S,
        ) as rig,
        session(rig.relay) as client,
    ):
        item_id = await client.user_text("before the rollover")
        (first,) = rig.upstream_hosts()
        assert first.expires_at == int(clock() + UPSTREAM_CAP_S)
        metrics = rig.relay.config.metrics

        clock.advance(UPSTREAM_CAP_S - MARGIN_S - 1)
        assert _rebuilds(metrics, "rollover") == 0
        clock.advance(1)
        await until(lambda: _rebuilds(metrics, "rollover") == 1, "the rollover")
        await until(lambda: first.transport.closed, "the old upstream session to close")

        (second,) = [h for h in rig.upstream_hosts() if h is not first]
        assert second.conversation.item_ids == [item_id]
        await client.send({"type": "response.create"})
        events = await client.until("response.done")
        assert events[-1].response.status == "completed"
        (relayed,) = rig.relay_hosts()
        assert second.conversation.item_ids == relayed.conversation.item_ids
        assert _rebuilds(metrics, "drop") == 0
        assert not relayed.transport.closed


async def test_an_upstream_clock_behind_ours_does_not_roll_over_in_a_loop() -> None:
    """An ``expires_at`` already past by the relay's clock waits MIN_UPSTREAM_LIFE_S."""
    upstream_clock = FakeClock()
    relay_clock = FakeClock(upstream_clock() + 10 * UPSTREAM_CAP_S)  # far ahead
    upstream_config = ServerConfig(
        port=0, clock=upstream_clock, sleep=upstream_clock.sleep, session_cap_s=UPSTREAM_CAP_S
    )
    relay_config = ServerConfig(port=0, clock=relay_clock, sleep=relay_clock.sleep)
    async with (
        relay_rig(upstream_config=upstream_config, relay_config=relay_config) as rig,
        session(rig.relay) as client,
    ):
        await client.user_text("skewed clocks")
        metrics = rig.relay.config.metrics
        await until(lambda: relay_clock.sleepers >= 2, "the rollover timer")
        assert _rebuilds(metrics, "rollover") == 0
        relay_clock.advance(MIN_UPSTREAM_LIFE_S - 1)
        await client.user_text("still the first upstream")
        assert _rebuilds(metrics, "rollover") == 0
        relay_clock.advance(1)
        await until(lambda: _rebuilds(metrics, "rollover") == 1, "one rollover")
        await client.user_text("on the second upstream")
        assert _rebuilds(metrics, "rollover") == 1  # and not again at once


async def test_a_rollover_during_which_the_upstream_spoke_is_retried_with_it() -> None:
    """The current upstream adds an item while the next session is being built (as its VAD
    would commit a turn): that attempt is dropped, the item reaches the client, and the
    next attempt carries it over with its id."""
    clock = FakeClock()
    upstream_config = ServerConfig(
        port=0, clock=clock, sleep=clock.sleep, session_cap_s=UPSTREAM_CAP_S
    )
    relay_config = ServerConfig(port=0, clock=clock, sleep=clock.sleep)
    async with (
        relay_rig(
            upstream_config=upstream_config,
            relay_config=relay_config,
            proxy=True,
            rollover_margin_s=MARGIN_S,
        ) as rig,
        session(rig.relay) as client,
    ):
        assert rig.proxy is not None
        first_item = await client.user_text("before the rollover")
        (first,) = rig.upstream_hosts()
        (relayed,) = rig.relay_hosts()
        assert isinstance(relayed.backend, RelayBackend)
        keeper = relayed.backend.keeper
        rig.proxy.plan_next(Fault.stall(300, direction="down"))  # the next session is slow
        clock.advance(UPSTREAM_CAP_S - MARGIN_S)
        await until(lambda: keeper.holding is not None, "the rollover to start building")
        spoken = decode_client_event(json.dumps(_user_item("said during the rollover")))
        await first.backend.handle(spoken)  # the current upstream moves on by itself
        events = await client.until("conversation.item.done")
        assert events[-1].item.id == SPOKEN_ID
        metrics = rig.relay.config.metrics
        await until(lambda: _rebuilds(metrics, "rollover") == 1, "the second attempt")
        (second,) = [h for h in rig.upstream_hosts() if h is not first]
        assert second.conversation.item_ids == [first_item, SPOKEN_ID]
        assert relayed.conversation.item_ids == second.conversation.item_ids
        assert len(rig.proxy.connections) == 3  # the first, the dropped attempt, the next


def _user_item(text: str) -> dict[str, object]:
    content = [{"type": "input_text", "text": text}]
    item = {"id": SPOKEN_ID, "type": "message", "role": "user", "content": content}
    return {"type": "conversation.item.create", "event_id": "evt_vad", "item": item}
