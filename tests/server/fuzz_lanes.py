"""The fuzz run's event lanes: mutated events pipelined down a WebSocket or a data channel.

A lane sends its events in batches without waiting for answers; after each
batch it sends a probe (a ``conversation.item.retrieve`` of a missing item,
which must be refused by id) and only waits for the probe of the batch
*before*, so two batches are always in flight. The server answers a session's
events in order, so once a probe is answered every event of its batch has
been: the :class:`Ledger` then checks the batch (every malformed event got an
``error``, with its ``event_id`` where one was readable) and forgets it. A
probe unanswered within ``PROBE_S`` is a hang.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fuzz_mutations import Message, Mutator

from rtagents.protocol.codec import InvalidEvent, UnknownEvent, decode_server_event

PROBE_S = 30.0
SETUP = {
    "type": "session.update",
    "event_id": "setup",
    "session": {
        "type": "realtime",
        "output_modalities": ["text"],
        "audio": {"input": {"turn_detection": None}},
    },
}


@dataclass
class Findings:
    """Everything the run found, across lanes; empty lists mean a clean run."""

    sent: Counter[str] = field(default_factory=Counter)  # by transport
    kinds: Counter[str] = field(default_factory=Counter)  # by mutation
    server_events: int = 0
    unanswered: list[str] = field(default_factory=list)  # samples: "lane id kind payload"
    unanswered_count: int = 0
    lost_event_id: list[str] = field(default_factory=list)
    lost_event_id_count: int = 0
    invalid_server_events: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    stalls: list[str] = field(default_factory=list)  # probes answered, but past PROBE_S
    closes: list[str] = field(default_factory=list)
    codec_raised: list[str] = field(default_factory=list)  # decode_client_event raised
    http_5xx: list[str] = field(default_factory=list)
    http_status: Counter[str] = field(default_factory=Counter)
    lane_seconds: dict[str, float] = field(default_factory=dict)
    failed_kinds: Counter[str] = field(default_factory=Counter)  # mutation: findings of it
    lost_kinds: Counter[str] = field(default_factory=Counter)  # mutation: ids lost

    def sample(self, into: list[str], line: str) -> None:
        if len(into) < 20:
            into.append(line[:400])


@dataclass
class _Batch:
    messages: dict[str, Message] = field(default_factory=dict)  # readable id -> message
    unreadable: list[Message] = field(default_factory=list)  # must error, id unreadable
    seen: set[str] = field(default_factory=set)
    owned: list[str] = field(default_factory=list)  # every id it registered in the ledger
    nulls: int = 0
    answered: asyncio.Event = field(default_factory=asyncio.Event)


class Ledger:
    """One session's batches in flight and the errors that answered them."""

    def __init__(self, lane: str, findings: Findings) -> None:
        self.lane = lane
        self.findings = findings
        self.batches: dict[int, _Batch] = {}
        # event id -> the batches that sent it, oldest first: a loose id read from broken
        # JSON (e.g. "w" from '"w"s2.12...') can repeat across the two batches in flight,
        # and the server answers in order, so an answer goes to the oldest.
        self.owner: dict[str, list[int]] = {}
        self.last_answered = ""  # the event_id of the latest error, for a hang's report

    def open(self, number: int) -> None:
        self.batches[number] = _Batch()

    def sent(self, number: int, message: Message) -> None:
        batch = self.batches[number]
        expect = message.expect
        if expect.raised:
            line = f"{self.lane} codec raised {expect.raised} on {message.payload[:200]!r}"
            self.findings.sample(self.findings.codec_raised, line)
        if expect.must_error and expect.event_id is None:
            batch.unreadable.append(message)
            if expect.loose_id is not None:
                self._own(expect.loose_id, number)
        elif expect.event_id is not None:
            self._own(expect.event_id, number)
            if expect.must_error:
                batch.messages[expect.event_id] = message

    def feed(self, raw: str | bytes) -> None:
        """One frame from the server: schema-checked, and counted if it is an error."""
        self.findings.server_events += 1
        decoded = decode_server_event(raw)
        if isinstance(decoded, UnknownEvent | InvalidEvent):
            self.findings.sample(self.findings.invalid_server_events, f"{self.lane} {raw!r}")
            return
        if decoded.type != "error":
            return
        event_id = decoded.error.event_id
        self.last_answered = event_id or "null"
        if event_id is not None and event_id.startswith("probe."):
            self._answered(int(event_id.split(".")[1]))
        elif event_id in self.owner:
            owners = self.owner[event_id]
            self.batches[owners.pop(0)].seen.add(event_id)
            if not owners:
                del self.owner[event_id]
        else:  # null, or an id read from a message this harness found unreadable
            oldest = min(self.batches, default=None)
            if oldest is not None:
                self.batches[oldest].nulls += 1

    async def wait(self, number: int, limit_s: float = PROBE_S) -> bool:
        """Whether batch ``number`` was answered within ``limit_s``."""
        batch = self.batches.get(number)
        if batch is None:
            return True
        try:
            await asyncio.wait_for(batch.answered.wait(), limit_s)
        except TimeoutError:
            return False
        return True

    def _answered(self, number: int) -> None:
        batch = self.batches.pop(number, None)
        if batch is None:
            return
        for earlier in [n for n in self.batches if n < number]:  # answered out of order
            self._answered(earlier)
        batch.answered.set()
        findings = self.findings
        missing = [i for i in batch.messages if i not in batch.seen]
        # Broken JSON owes an error; one carrying what looked like its id answers it too.
        unreadable = [m for m in batch.unreadable if m.expect.loose_id not in batch.seen]
        lost_ids = min(len(missing), max(0, batch.nulls - len(unreadable)))
        unanswered_nulls = max(0, len(unreadable) - batch.nulls)
        findings.lost_event_id_count += lost_ids
        findings.unanswered_count += len(missing) - lost_ids + unanswered_nulls
        for event_id in missing:
            findings.failed_kinds[batch.messages[event_id].kind] += 1
        for message in unreadable[batch.nulls :]:
            findings.failed_kinds[message.kind] += 1
        for event_id in missing[:lost_ids]:
            message = batch.messages[event_id]
            findings.lost_kinds[message.kind] += 1
            line = f"{self.lane} {event_id} {message.kind} {message.payload[:300]!r}"
            findings.sample(findings.lost_event_id, line)
        for event_id in missing[lost_ids:]:
            message = batch.messages[event_id]
            line = f"{self.lane} {event_id} {message.kind} {message.payload[:300]!r}"
            findings.sample(findings.unanswered, line)
        for message in unreadable[batch.nulls :]:
            findings.sample(
                findings.unanswered, f"{self.lane} - {message.kind} {message.payload[:300]!r}"
            )
        for event_id in batch.owned:
            owners = self.owner.get(event_id)
            if owners is not None and number in owners:
                owners.remove(number)
                if not owners:
                    del self.owner[event_id]

    def _own(self, event_id: str, number: int) -> None:
        self.owner.setdefault(event_id, []).append(number)
        self.batches[number].owned.append(event_id)


def probe(number: int) -> str:
    event = {"type": "conversation.item.retrieve", "item_id": "item_probe", "event_id": ""}
    return json.dumps({**event, "event_id": f"probe.{number}"})


class Hang(Exception):
    """A probe stayed unanswered past PROBE_S and the grace after it (recorded already)."""


async def run_batches(
    lane: str,
    ledger: Ledger,
    mutator: Mutator,
    count: int,
    batch_size: int,
    send: Callable[[str | bytes], Any],
    findings: Findings,
    transport: str,
    state: Callable[[], str] = lambda: "",
) -> int:
    """Send ``count`` mutated events in probed batches; how many went out.

    Raises :class:`Hang` (after recording it) when a probe is never answered;
    ``state`` describes the transport for that report.
    """
    sent = 0
    number = 0
    while sent < count:
        ledger.open(number)
        for _ in range(min(batch_size, count - sent)):
            message = mutator.message(f"{lane}.{number}.{sent}")
            ledger.sent(number, message)
            findings.kinds[message.kind] += 1
            findings.sent[transport] += 1
            await send(message.payload)
            sent += 1
        await send(probe(number))
        await _answered(lane, ledger, number - 1, findings, state)
        number += 1
    await _answered(lane, ledger, number - 1, findings, state)
    return sent


async def _answered(
    lane: str, ledger: Ledger, number: int, findings: Findings, state: Callable[[], str]
) -> None:
    """Wait for probe ``number``: late past PROBE_S is a stall, never within 3x a hang."""
    started = time.monotonic()
    if await ledger.wait(number):
        return
    where = f"the last error answered {ledger.last_answered}; {state()}"
    if await ledger.wait(number, PROBE_S * 2):
        late = time.monotonic() - started
        findings.stalls.append(f"{lane}: probe {number} answered after {late:.0f} s; {where}")
        return
    findings.hangs.append(f"{lane}: probe {number} unanswered after {PROBE_S * 3:.0f} s; {where}")
    raise Hang(lane)
