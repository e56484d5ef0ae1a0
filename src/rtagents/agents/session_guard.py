"""Stopping a reply: guardrail checks and trips, interrupts and barge-ins.

All three end the same way: cancel the response if it is still running, cut
its item at what the listener heard (the client's playback tracker clamps to
the audio received), clear the server's output buffer on WebRTC, stop
delivering that response's audio, and say so with ``audio_interrupted``.
A guardrail trip then adds a corrective system message and asks again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from ..protocol.bounded import RecentDict
from .agent import OutputGuardrailResult
from .agent_events import AudioInterrupted, GuardrailTripped
from .guardrail import GuardrailWatch, ResponseText
from .session_owner import SessionOwner

log = logging.getLogger("rtagents.agents.guardrails")


class GuardrailRunner:
    """The guardrail checks of one agent session, and how a reply is stopped."""

    def __init__(self, owner: SessionOwner, watch: GuardrailWatch) -> None:
        self.owner = owner
        self.watch = watch
        self.trips = 0
        self.max_corrections = 3
        """Trips in a row that get a corrected reply; past it the reply just stops (a model
        that keeps tripping would otherwise loop forever)."""
        self._in_a_row = 0
        self._silenced: RecentDict[str, None] = RecentDict(256)
        """Stopped responses, whose late audio and transcript are no longer delivered."""

    def silenced(self, response_id: str | None) -> bool:
        return response_id is not None and response_id in self._silenced

    # -- checks -------------------------------------------------------------------

    def add(self, response_id: str | None, item_id: str | None, delta: str) -> None:
        if response_id is None or response_id in self.watch.tripped:
            return
        state = self.watch.get(response_id) or self.watch.start(
            response_id, self.owner.agent_of_response(response_id)
        )
        if state.agent.output_guardrails and self.watch.add(state, delta, item_id):
            self._schedule(state)

    def response_ended(self, response_id: str) -> None:
        state = self.watch.get(response_id)
        if state is None:
            return
        state.ended = True
        due = state.length > state.checked and response_id not in self.watch.tripped
        if state.agent.output_guardrails and due:
            self._schedule(state)
        elif not state.checking:
            self._passed(state)

    def _schedule(self, state: ResponseText) -> None:
        if state.checking:
            state.again = True
            return
        state.checking = True
        self.owner.spawn(self._check(state), "rtagents-guardrails")

    async def _check(self, state: ResponseText) -> None:
        try:
            while True:
                text, state.checked, state.again = state.text, state.length, False
                results = await self._run_all(state, text)
                tripped = tuple(r for r in results if r.output.tripwire_triggered)
                if tripped and self.watch.mark_tripped(state.response_id):
                    await self._trip(state, tripped)
                    return
                if not state.again:
                    return
        finally:
            state.checking = False
            if state.ended:
                self._passed(state)

    def _passed(self, state: ResponseText) -> None:
        """A response ended and was checked: if it got through, corrections start over."""
        if state.response_id not in self.watch.tripped and state.length:
            self._in_a_row = 0
        self.watch.forget(state.response_id)

    async def _run_all(self, state: ResponseText, text: str) -> list[OutputGuardrailResult]:
        ctx = self.owner.run_context
        outcomes = await asyncio.gather(
            *(g.run(ctx, state.agent, text) for g in state.agent.output_guardrails),
            return_exceptions=True,
        )
        results = []
        for guardrail, outcome in zip(state.agent.output_guardrails, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.error(
                    "guardrail %r raised; treated as not tripped",
                    guardrail.get_name(),
                    exc_info=outcome,
                )
            else:
                results.append(outcome)
        return results

    async def _trip(self, state: ResponseText, results: tuple[OutputGuardrailResult, ...]) -> None:
        self.trips += 1
        names = ", ".join(r.guardrail.get_name() for r in results)
        why = "; ".join(_describe(r.output.output_info) for r in results)
        message = (
            f"Your previous reply was stopped by the output guardrail {names}"
            + (f" ({why})" if why else "")
            + ". Do not repeat it; answer the user again within your instructions."
        )
        log.info("guardrail tripped on response %s: %s", state.response_id, names)
        await self.stop_response(state.response_id, state.item_id, reason="guardrail", force=True)
        self.owner.emit(
            GuardrailTripped(
                agent=state.agent,
                response_id=state.response_id,
                item_id=state.item_id,
                results=results,
                message=message,
            )
        )
        self._in_a_row += 1
        if self._in_a_row > self.max_corrections:
            log.warning("%d guardrail trips in a row: not asking for another reply", self._in_a_row)
            return
        client = self.owner.client
        await client.create_item(
            {
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": message}],
            }
        )
        await client.create_response()

    # -- stopping a reply ---------------------------------------------------------

    async def stop_response(
        self,
        response_id: str | None,
        item_id: str | None,
        *,
        reason: str,
        cancel: bool = True,
        force: bool = False,
    ) -> None:
        """Cancel (if running), truncate at what was heard, clear (WebRTC), tell the app.

        Without ``force`` an item whose response ended is truncated only if
        playback was reported and fell short: an app that never reports
        playback does not lose a reply it finished playing.
        """
        client = self.owner.client
        conversation = client.conversation
        running = response_id is not None and conversation.active_response_id == response_id
        if response_id is not None:
            self._silenced[response_id] = None
        if cancel and running:
            await client.cancel_response()
        end_ms: int | None = None
        if item_id is not None and conversation.truncated_ms(item_id) is None:
            received = conversation.audio_ms(item_id)
            heard = client.playback.heard_ms(item_id)
            if received > 0 and (force or running or 0 < heard < int(received)):
                end_ms = heard
                await client.playback.truncate(item_id)
        if self.owner.webrtc:
            await client.clear_output_audio()
        self.owner.emit(AudioInterrupted(item_id=item_id, audio_end_ms=end_ms, reason=reason))


def _describe(info: Any) -> str:
    if info is None:
        return ""
    if isinstance(info, str):
        return info
    try:
        return json.dumps(info, default=str)
    except (TypeError, ValueError):
        return repr(info)
