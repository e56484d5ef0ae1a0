"""The downstream connection drops and resumes: the host's resume, the upstream untouched.

Resume belongs to the host, whatever backend answers: an rtagents client whose
connection to the relay is cut resumes the same relayed session (nothing
rebuilt), while the relay's upstream session goes on as if nothing happened.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from relay_harness import relay_rig, until

from rtagents import connect
from rtagents.client import ReconnectPolicy, ResumedEvent
from rtagents.testing.faults import FaultProxy

FAST = ReconnectPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, rollover_margin=None)
TEXT = {"type": "realtime", "output_modalities": ["text"]}


async def test_a_cut_downstream_resumes_without_touching_the_upstream() -> None:
    async with relay_rig() as rig:
        port = urlsplit(rig.relay.ws_url).port
        assert port is not None
        async with (
            FaultProxy(("127.0.0.1", port)) as proxy,
            connect(
                proxy.url(), credentials=rig.relay.api_key, reconnect=FAST, session=TEXT
            ) as client,
        ):
            await client.send_text("before the cut")
            await client.create_response()
            await client.wait_for("response.done", timeout=20)
            (upstream,) = rig.upstream_hosts()
            resumed = asyncio.create_task(client.wait_for("rtagents.resumed", timeout=20))
            (await proxy.connection(0)).cut()
            event = await resumed
            assert isinstance(event, ResumedEvent) and not event.rebuilt
            await client.send_text("after the cut")
            await client.create_response()
            done = await client.wait_for("response.done", timeout=20)
            assert done.response.status == "completed"
            (relayed,) = rig.relay_hosts()
            await until(
                lambda: upstream.conversation.item_ids == relayed.conversation.item_ids,
                "the upstream to hold the whole conversation",
            )
            assert rig.upstream_hosts() == [upstream]  # the same upstream session throughout
            assert len(relayed.conversation.item_ids) == 4
            metrics = rig.relay.config.metrics
            assert 'rtagents_upstream_rebuilds_total{reason="drop"}' not in (
                metrics.exposition().decode()
            )
