"""Bounds: the server's RSS before and after a client tries to grow one session without end.

Each scenario runs against a fresh server process (``bench/load_server.py``:
the real server, scripted engine, loopback) and one raw WebSocket client:

- ``append``: ``--append-mib`` MiB of input audio appended in 1 MiB events,
  never committed (the input buffer's limit is 15 MiB);
- ``items``: ``--items`` ``conversation.item.create`` events (the
  conversation's limit is 4,096 items);
- ``instructions``: one ``session.update`` with ``--instructions-mib`` MiB of
  instructions (the limit is 256 KiB).

After the last event a ``conversation.item.retrieve`` of an unknown id is
sent and its error awaited, so every event before it has been handled when
RSS is read (``VmRSS`` of the server process). It prints one line per
scenario: RSS before and after, the events refused and with which codes.

Run: ``.venv/bin/python bench/bounds.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
from collections import Counter
from collections.abc import Iterator

from load import ServerProcess
from websockets.asyncio.client import ClientConnection, connect

MIB = 2**20
SYNC_ID = "bounds_sync"


def append_events(mib: int) -> Iterator[str]:
    chunk = base64.b64encode(bytes(MIB)).decode()  # 1 MiB of silence, pcm16
    for i in range(mib):
        yield json.dumps({"type": "input_audio_buffer.append", "event_id": f"a{i}", "audio": chunk})


def item_events(count: int) -> Iterator[str]:
    for i in range(count):
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": f"item number {i}"}],
        }
        yield json.dumps({"type": "conversation.item.create", "event_id": f"i{i}", "item": item})


def instruction_events(mib: int) -> Iterator[str]:
    session = {"type": "realtime", "instructions": "x" * (mib * MIB)}
    yield json.dumps({"type": "session.update", "event_id": "u0", "session": session})


async def refusals_until_sync(ws: ClientConnection) -> Counter[str]:
    """The error codes the server sent, until the sync event's error."""
    codes: Counter[str] = Counter()
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 120))
        if event["type"] != "error":
            continue
        error = event["error"]
        if error.get("event_id") == SYNC_ID:
            return codes
        # Every event sent has an event_id: a refusal without it is a defect, counted apart.
        codes[error.get("code") if error.get("event_id") else "(no event_id)"] += 1


async def run(server: ServerProcess, events: Iterator[str]) -> tuple[float, float, Counter[str]]:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with connect(server.ws_url, additional_headers=headers, max_size=None) as ws:
        await ws.recv()  # session.created
        before = server.rss_mib()
        reader = asyncio.create_task(refusals_until_sync(ws))
        for frame in events:
            await ws.send(frame)
        sync = {"type": "conversation.item.retrieve", "event_id": SYNC_ID, "item_id": "none"}
        await ws.send(json.dumps(sync))
        codes = await reader
        return before, server.rss_mib(), codes


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--append-mib", type=int, default=20)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--instructions-mib", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.append_mib, args.items, args.instructions_mib = 2, 200, 1
    scenarios = {
        f"append {args.append_mib} MiB": append_events(args.append_mib),
        f"{args.items} items": item_events(args.items),
        f"instructions {args.instructions_mib} MiB": instruction_events(args.instructions_mib),
    }
    for name, events in scenarios.items():
        server = ServerProcess(stamps=False)
        try:
            before, after, codes = await run(server, events)
        finally:
            server.stop()
        refused = ", ".join(f"{code} x{n}" for code, n in codes.most_common()) or "none"
        print(f"{name:>22}: RSS {before:6.1f} -> {after:6.1f} MiB; refused: {refused}")


if __name__ == "__main__":
    asyncio.run(main())
