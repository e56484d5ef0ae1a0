"""Server id cost against what a server would otherwise use, measured in one run.

Every audio delta the server sends carries a fresh ``event_id``, so an id must
cost far less than the event it names. ``rtagents.server.ids`` (a random
per-process stem plus a fixed-width base-62 counter, unique by construction)
is timed against the two usual choices: ``uuid.uuid4().hex`` and
``secrets.token_urlsafe(16)`` (fresh randomness per id), best of several
rounds, and against encoding one 4 KB audio delta with the codec, to show
the share of a delta's cost the id takes.

Run: ``.venv/bin/python bench/ids.py`` (``--quick`` for a short smoke run).
"""

from __future__ import annotations

import argparse
import base64
import secrets
import timeit
import uuid
from collections.abc import Callable

from rtagents.protocol.codec import encode_event
from rtagents.server import ids


def _best_ns(call: Callable[[], object], number: int, rounds: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=rounds)) / number * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    number, rounds = (20_000, 3) if args.quick else (500_000, 7)
    delta = {
        "type": "response.output_audio.delta",
        "event_id": ids.event_id(),
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(bytes(3072)).decode(),
    }
    ours = _best_ns(ids.event_id, number, rounds)
    candidates = {
        "uuid4().hex": lambda: "event_" + uuid.uuid4().hex,
        "secrets.token_urlsafe(16)": lambda: "event_" + secrets.token_urlsafe(16),
    }
    encode = _best_ns(lambda: encode_event(delta), number // 10, rounds)
    print(f"{'id source':<28}{'ns/id':>9}{'vs rtagents':>13}")
    print(f"{'rtagents ids.event_id()':<28}{ours:>9.0f}{1.0:>12.2f}x")
    for name, make in candidates.items():
        cost = _best_ns(make, number, rounds)
        print(f"{name:<28}{cost:>9.0f}{cost / ours:>12.2f}x")
    print(f"encoding one 4 KB audio delta: {encode:.0f} ns; the id is {ours / encode:.1%} of it")


if __name__ == "__main__":
    main()
