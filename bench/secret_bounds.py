"""Secret store bounds: the server's RSS before and after a client mints secrets without end.

Issue 11, hole 3: 200 mints with 1 MiB instructions took a server from 81 to
298 MB. Each scenario starts a fresh ``rtagents serve --engine scripted``
process (``rtagents.testing.server_process``), mints ``--count`` secrets in
a row over HTTP with the API key, each with ``instructions`` of the given
size (1,000,000 characters fits the 1 MiB request body), and prints the
server's ``VmRSS`` before and after with the HTTP statuses and error codes
it answered. Scenarios:

- ``defaults``: every limit at its default: the instructions limit (256 KiB)
  refuses each body, and past ``mints_per_minute`` (120) the rate refuses;
- ``defaults, 200 KB``: instructions just under their limit: 120 are stored,
  then 429 ``rate_limit_exceeded``;
- ``store bound``: the rate and instructions limits lifted, so the store's
  byte bound (``stored_secrets_bytes``, 64 MiB) is what stops it (503
  ``secret_store_full``);
- ``unbounded``: every secret limit lifted, the old behaviour, for contrast.

Run: ``.venv/bin/python bench/secret_bounds.py`` (``--count 100`` for a quicker run).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections import Counter
from pathlib import Path

import httpx

from rtagents.testing.server_process import ServerProcess

BIG = 1_000_000
LIFT_RATE = ["--limit-mints-per-minute", "1000000", "--limit-instructions-bytes", str(2**20)]
LIFT_STORE = ["--limit-stored-secrets", "1000000", "--limit-stored-secrets-bytes", str(2**40)]


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


async def mint_many(server: ServerProcess, count: int, chars: int) -> Counter[str]:
    body = {"session": {"type": "realtime", "instructions": "x" * chars}}
    headers = {"Authorization": f"Bearer {server.api_key}"}
    answers: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=server.http_url, timeout=60) as http:
        for _ in range(count):
            reply = await http.post("/v1/realtime/client_secrets", json=body, headers=headers)
            code = "" if reply.status_code == 200 else f" {reply.json()['error']['code']}"
            answers[f"{reply.status_code}{code}"] += 1
    return answers


async def scenario(name: str, args: list[str], count: int, chars: int, logs: Path) -> None:
    server = ServerProcess(logs / f"{name.replace(' ', '_')}.log", args=args)
    server.start()
    try:
        await mint_many(server, 1, 10)  # warm: the first request loads what every one needs
        before = rss_mib(server.pid)
        answers = await mint_many(server, count, chars)
        after = rss_mib(server.pid)
    finally:
        server.stop()
    shown = ", ".join(f"{answer} x{n}" for answer, n in answers.most_common())
    rss = f"RSS {before:6.1f} -> {after:6.1f} MiB"
    print(f"{name:>17}: {count} mints of {chars:,} chars: {rss}; {shown}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--unbounded-count", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        await scenario("defaults", [], args.count, BIG, logs)
        await scenario("defaults, 200 KB", [], args.count, 200_000, logs)
        await scenario("store bound", LIFT_RATE, args.count, BIG, logs)
        await scenario("unbounded", LIFT_RATE + LIFT_STORE, args.unbounded_count, BIG, logs)


if __name__ == "__main__":
    asyncio.run(main())
