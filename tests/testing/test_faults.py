"""The fault-injection proxy over real loopback sockets.

A tiny upstream server records what reaches it (and can answer); each test
drives a client socket through the proxy and checks what each side saw. No
timings are asserted: a stall is checked by what did *not* arrive until it was
lifted, a delay by order and integrity.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtagents.server.serving import running_server
from rtagents.testing.faults import Fault, FaultProxy, RandomFaults

TIMEOUT_S = 5.0


@dataclass
class Upstream:
    """Records every read per connection; sends ``greeting`` on connect if set."""

    reads: list[list[bytes]] = field(default_factory=list)
    eof: list[asyncio.Event] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    greeting: bytes = b""
    port: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        async def wait() -> None:
            async with self.changed:
                await self.changed.wait_for(predicate)

        await asyncio.wait_for(wait(), TIMEOUT_S)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reads: list[bytes] = []
        eof = asyncio.Event()
        self.reads.append(reads)
        self.eof.append(eof)
        self.writers.append(writer)
        if self.greeting:
            writer.write(self.greeting)
        await self._notify()
        try:
            while data := await reader.read(65536):
                reads.append(data)
                await self._notify()
        except ConnectionError:
            pass
        eof.set()

    def received(self, index: int = 0) -> bytes:
        return b"".join(self.reads[index])

    async def connected(self, count: int = 1) -> None:
        await self.wait_until(lambda: len(self.eof) >= count)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    recorder = Upstream()
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    recorder.port = server.sockets[0].getsockname()[1]
    yield recorder
    for writer in recorder.writers:
        writer.close()
    await asyncio.wait_for(asyncio.gather(*(eof.wait() for eof in recorder.eof)), TIMEOUT_S)
    server.close()
    await server.wait_closed()


@pytest.fixture
async def proxy(upstream: Upstream) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(("127.0.0.1", upstream.port)) as running:
        yield running


async def dial(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", proxy.port)


async def until_received(upstream: Upstream, size: int, index: int = 0) -> bytes:
    await upstream.wait_until(
        lambda: len(upstream.reads) > index and len(upstream.received(index)) >= size
    )
    return upstream.received(index)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except ConnectionError:
        pass  # the proxy reset it: that was the point


PAYLOAD = bytes(range(256)) * 64  # 16 KiB


async def test_clean_connection_forwards_everything_both_ways(
    upstream: Upstream, proxy: FaultProxy
) -> None:
    upstream.greeting = b"hello"
    reader, writer = await dial(proxy)
    writer.write(PAYLOAD)
    assert await until_received(upstream, len(PAYLOAD)) == PAYLOAD
    assert await asyncio.wait_for(reader.readexactly(5), TIMEOUT_S) == b"hello"
    await close(writer)
    await upstream.connected()
    await asyncio.wait_for(upstream.eof[0].wait(), TIMEOUT_S)


async def test_cut_at_byte_forwards_exactly_that_many_then_resets_both(
    upstream: Upstream, proxy: FaultProxy
) -> None:
    proxy.plan_next(Fault.cut(at_byte=1000, direction="up"))
    reader, writer = await dial(proxy)
    writer.write(PAYLOAD)
    await upstream.connected()
    await asyncio.wait_for(upstream.eof[0].wait(), TIMEOUT_S)
    assert upstream.received() == PAYLOAD[:1000]
    with pytest.raises(ConnectionResetError):  # RST, not an orderly EOF
        await asyncio.wait_for(reader.read(10), TIMEOUT_S)
    assert (await proxy.connection(0)).was_cut
    await close(writer)


async def test_cut_at_time(upstream: Upstream, proxy: FaultProxy) -> None:
    proxy.plan_next(Fault.cut(at_s=0.05))
    reader, writer = await dial(proxy)
    await asyncio.wait_for((await proxy.connection(0)).wait_closed(), TIMEOUT_S)
    assert (await proxy.connection(0)).was_cut
    await close(writer)


async def test_half_close_up_ends_the_server_side_while_down_still_flows(
    upstream: Upstream, proxy: FaultProxy
) -> None:
    proxy.plan_next(Fault.half_close("up", at_byte=10))
    reader, writer = await dial(proxy)
    writer.write(b"0123456789 dropped")
    await upstream.connected()
    await asyncio.wait_for(upstream.eof[0].wait(), TIMEOUT_S)
    assert upstream.received() == b"0123456789"
    upstream.writers[0].write(b"still here")
    assert await asyncio.wait_for(reader.readexactly(10), TIMEOUT_S) == b"still here"
    await close(writer)


async def test_stall_forever_holds_data_until_resumed(
    upstream: Upstream, proxy: FaultProxy
) -> None:
    proxy.plan_next(Fault.stall(direction="up", at_byte=4))
    reader, writer = await dial(proxy)
    writer.write(b"abcdefgh")
    assert await until_received(upstream, 4) == b"abcd"
    await asyncio.sleep(0.1)
    assert upstream.received() == b"abcd"  # held, not lost
    (await proxy.connection(0)).resume()
    assert await until_received(upstream, 8) == b"abcdefgh"
    await close(writer)


async def test_timed_stall_and_delay_deliver_everything_in_order(
    upstream: Upstream, proxy: FaultProxy
) -> None:
    proxy.plan_next(Fault.stall(50, at_s=0.0), Fault.delay(5, direction="up"))
    reader, writer = await dial(proxy)
    for start in range(0, len(PAYLOAD), 1000):
        writer.write(PAYLOAD[start : start + 1000])
        await writer.drain()
    assert await until_received(upstream, len(PAYLOAD)) == PAYLOAD
    await close(writer)


async def test_fragment_splits_writes_into_pieces(upstream: Upstream, proxy: FaultProxy) -> None:
    proxy.plan_next(Fault.fragment(3, direction="up"))
    reader, writer = await dial(proxy)
    writer.write(PAYLOAD[:300])
    assert await until_received(upstream, 300) == PAYLOAD[:300]
    assert len(upstream.reads[0]) > 1
    assert max(len(read) for read in upstream.reads[0]) < 300
    await close(writer)


def test_fragment_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="fragment size"):
        Fault.fragment(0)


def test_random_plans_repeat_for_a_seed() -> None:
    def plans(seed: int) -> list[list[Fault]]:
        chaos = RandomFaults(rng=random.Random(seed), probability=0.8)
        return [chaos.plan() for _ in range(50)]

    assert plans(7) == plans(7)
    assert plans(7) != plans(8)
    kinds = {plan[0].kind for plan in plans(7) if plan}
    assert kinds == {"cut", "stall", "delay", "fragment"}


async def test_chaos_connections_all_end_and_close_leaves_no_task(upstream: Upstream) -> None:
    chaos = RandomFaults(rng=random.Random(3), probability=1.0, max_byte=2000)
    async with FaultProxy(("127.0.0.1", upstream.port), chaos=chaos) as proxy:
        writers = []
        for _ in range(6):
            _, writer = await dial(proxy)
            writer.write(PAYLOAD)
            writers.append(writer)
        proxy.plan_next(Fault.stall())  # a connection stuck forever must not stop close()
        _, stuck = await dial(proxy)
        stuck.write(b"x")
        writers.append(stuck)
        await asyncio.sleep(0.1)
    for writer in writers:
        await close(writer)
    assert len(proxy.connections) == 7
    leftover = [t for t in asyncio.all_tasks() if (t.get_name() or "").startswith("proxy-")]
    assert leftover == []


async def test_websocket_through_proxy_sees_an_abnormal_close_on_cut() -> None:
    async with running_server() as server:
        port = int(server.ws_url.rsplit(":", 1)[1].split("/")[0])
        async with FaultProxy(("127.0.0.1", port)) as proxy:
            proxy.plan_next(Fault.fragment(7, direction="down"))
            headers = {"Authorization": f"Bearer {server.api_key}"}
            async with connect(proxy.url(), additional_headers=headers) as ws:
                first = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
                assert '"session.created"' in str(first)
                (await proxy.connection(0)).cut()
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), TIMEOUT_S)
                    await asyncio.wait_for(ws.recv(), TIMEOUT_S)
                assert closed.value.rcvd is None  # no close frame: 1006
