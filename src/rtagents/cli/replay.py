"""``rtagents replay FILE --url URL``: a recording's client side against a server, then a diff.

The client events of the recording are sent over a new WebSocket session,
each at the point of the conversation where the recording sent it (after as
many server events, and as many ``response.done``/``error``), at the
recorded pace or as fast as that allows. Ids the new server gives are
carried into later client events. What the server sends is then compared
with the recording (``observability/recording_diff.py``); the exit status is
1 when anything diverged, so a recording made with the scripted engine is a
regression test (docs/recording.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

from ..observability.recording_diff import IdMap, compare
from ..observability.recording_format import RecordingError
from ..protocol.errors import ConnectionFailure
from ..protocol.json_depth import parse_untrusted
from ..transports.base import Transport, TransportClosed
from .failures import CliError
from .replay_plan import MILESTONES, ReplayPlan, encode_frame, plan_from


def add_replay_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a recording (NAME.jsonl; its rotated parts are found)")
    parser.add_argument("--url", required=True, help="the server, e.g. ws://127.0.0.1:8000")
    parser.add_argument(
        "--pace",
        choices=("recorded", "fast"),
        default="fast",
        help="send at the recorded times, or as soon as the conversation allows (default)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("RTAGENTS_API_KEY") or os.environ.get("OPENAI_API_KEY"),
        help="API key or ek_ secret (env RTAGENTS_API_KEY or OPENAI_API_KEY)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the server before each client event (default 30)",
    )


def run_replay(args: argparse.Namespace) -> int:
    from ..client.opening import realtime_url

    try:
        plan = plan_from(args.file)
        url = realtime_url(args.url, plan.header.model)
    except (RecordingError, OSError, ConnectionFailure) as exc:
        raise CliError(str(exc)) from exc
    report = asyncio.run(
        replay(plan, url, api_key=args.api_key or "", pace=args.pace, wait_s=args.timeout)
    )
    print(report.text(args.file, url))
    return 1 if report.divergences else 0


@dataclass(slots=True)
class ReplayReport:
    plan: ReplayPlan
    sent: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    divergences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def text(self, path: str, url: str) -> str:
        plan = self.plan
        lines = [
            f"replayed {path} ({plan.header.side} recording) against {url}: sent "
            f"{self.sent} of {len(plan.steps)} client events, received "
            f"{len(self.received)} server events ({len(plan.server_events)} recorded)",
            *(f"note: {note}" for note in [*plan.notes, *self.notes]),
        ]
        if self.divergences:
            lines.append(f"DIVERGED ({len(self.divergences)}):")
            lines.extend(f"  {line}" for line in self.divergences)
        else:
            lines.append("no divergence (ids, times and audio bytes ignored)")
        return "\n".join(lines)


async def replay(
    plan: ReplayPlan, url: str, *, api_key: str, pace: str = "fast", wait_s: float = 30.0
) -> ReplayReport:
    """Send ``plan``'s client events to ``url`` and compare what the server sends back."""
    from ..transports.websocket import connect_websocket

    report = ReplayReport(plan)
    headers = {"Authorization": f"Bearer {api_key}"}
    try:
        transport = await connect_websocket(url, headers=headers, open_timeout=wait_s)
    except ConnectionFailure as exc:
        _refused(report, exc)
        return report
    if plan.open_failure is not None:
        report.divergences.append(
            f"connection: the recording's session was refused ({_failure_text(plan.open_failure)})"
            " but the replay's opened"
        )
        await transport.close()
        return report
    receiver = Receiver(transport, plan)
    reading = asyncio.create_task(receiver.run(), name="rtagents-replay-reader")
    try:
        await _send_steps(plan, transport, receiver, report, pace=pace, wait_s=wait_s)
        total = sum(e.get("type") in MILESTONES for e in plan.server_events)
        if not await receiver.reach(len(plan.server_events), total, wait_s=wait_s):
            report.notes.append("the server stopped sending before the recording's end")
    finally:
        await transport.close()
        await reading
    report.received = receiver.events
    report.divergences.extend(d.describe() for d in compare(plan.server_events, receiver.events))
    return report


async def _send_steps(
    plan: ReplayPlan,
    transport: Transport,
    receiver: Receiver,
    report: ReplayReport,
    *,
    pace: str,
    wait_s: float,
) -> None:
    loop = asyncio.get_running_loop()
    started, first = loop.time(), (plan.steps[0].t if plan.steps else 0.0)
    for step in plan.steps:
        if not await receiver.reach(step.after_events, step.after_milestones, wait_s=wait_s):
            report.notes.append(
                f"before client event {report.sent + 1} the server had sent "
                f"{len(receiver.events)} events, {step.after_events} recorded"
            )
        if pace == "recorded":
            await asyncio.sleep(max(0.0, (step.t - first) - (loop.time() - started)))
        frame = step.frame if isinstance(step.frame, str) else receiver.ids.translate(step.frame)
        try:
            await transport.send(encode_frame(frame))
        except TransportClosed as exc:
            report.notes.append(f"the server closed the session: {exc.message}")
            return
        report.sent += 1


def _refused(report: ReplayReport, exc: ConnectionFailure) -> None:
    recorded = report.plan.open_failure
    if recorded is None:
        report.divergences.append(f"connection: the replay's session was refused: {exc}")
    elif recorded.get("code") != exc.code:
        report.divergences.append(
            f"connection: refused as {exc.code}, the recording as {recorded.get('code')}"
        )
    else:
        report.notes.append(f"reproduced: the session was refused ({exc.code})")


def _failure_text(record: dict[str, Any]) -> str:
    return f"{record.get('category')} {record.get('code')}: {record.get('message')}"


class Receiver:
    """Reads the replay's server events, pairs their ids with the recording's, counts."""

    # How long a server with no response running may stay quiet, short of the
    # recorded events, before that is taken as a divergence rather than a delay.
    SETTLE_S = 1.0

    def __init__(self, transport: Transport, plan: ReplayPlan) -> None:
        self.transport = transport
        self.recorded = plan.server_events
        self.events: list[dict[str, Any]] = []
        self.milestones = 0
        self.responding = 0  # responses created and not done yet
        self.ids = IdMap()
        self.ended = False
        self._arrived = asyncio.Event()

    async def run(self) -> None:
        try:
            while True:
                frame = await self.transport.recv()
                self._take(frame)
        except TransportClosed:
            pass
        finally:
            self.ended = True
            self._arrived.set()

    def _take(self, frame: str | bytes) -> None:
        try:
            event = parse_untrusted(frame)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        index = len(self.events)
        if index < len(self.recorded) and self.recorded[index].get("type") == event.get("type"):
            self.ids.learn(self.recorded[index], event)
        self.events.append(event)
        self.milestones += event.get("type") in MILESTONES
        self.responding += (event.get("type") == "response.created") - (
            event.get("type") == "response.done"
        )
        self._arrived.set()

    async def reach(self, events: int, milestones: int, *, wait_s: float) -> bool:
        """Wait until the server has sent ``events`` events, ``milestones`` of them
        milestones; or, short of that, until it is quiet with no response running
        (it diverged: waiting longer would not help). False: ``wait_s`` ran out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            if len(self.events) >= events and self.milestones >= milestones:
                return True
            left = deadline - loop.time()
            if self.ended or left <= 0:
                return self.ended
            idle = self.responding == 0
            self._arrived.clear()
            try:
                await asyncio.wait_for(
                    self._arrived.wait(), min(left, self.SETTLE_S) if idle else left
                )
            except TimeoutError:
                if idle:
                    return True
