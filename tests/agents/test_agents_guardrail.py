"""Output guardrails, end to end: debounced checks, one trip per response, the correction."""

from __future__ import annotations

from typing import Any

import pytest
from agents_kit import (
    AUDIO,
    BAD_REPLY,
    RULES,
    Recorder,
    recorded_session,
    runner_for,
    scripted_server,
)

from rtagents.agents import (
    Agent,
    GuardrailFunctionOutput,
    OutputGuardrail,
    RunContext,
    output_guardrail,
)
from rtagents.agents.guardrail import GuardrailWatch
from rtagents.engines.base import LLMRequest
from rtagents.engines.scripted import Rule, Say

checked: list[str] = []


@output_guardrail(name="no_forbidden_words")
def no_forbidden(ctx: RunContext[Any], agent: Agent[Any], text: str) -> GuardrailFunctionOutput:
    checked.append(text)
    return GuardrailFunctionOutput(tripwire_triggered="forbidden" in text, output_info="OFF_BRAND")


def _corrected(request: LLMRequest) -> bool:
    return bool(request.messages) and request.messages[-1].role == "system"


SLOW_RULES = [
    Rule(when=_corrected, then=Say("Sorry, let me put that better.")),
    Rule(when="forbidden", then=Say(BAD_REPLY, token_delay_s=0.02)),
    *RULES,
]


async def test_a_trip_cancels_corrects_and_is_reported_once() -> None:
    checked.clear()
    agent = Agent(name="Brand", instructions="Be nice.", output_guardrails=[no_forbidden])
    async with recorded_session(agent, rules=SLOW_RULES) as (session, recorder):
        await session.send_text("say the forbidden thing")
        (trip,) = await recorder.count("guardrail_tripped", 1)
        assert trip.names == ["no_forbidden_words"] and trip.agent is agent
        assert trip.results[0].output.output_info == "OFF_BRAND"
        assert "OFF_BRAND" in trip.message
        ends = await recorder.count("agent_end", 2)
        assert ends[0].response_id == trip.response_id and ends[0].status == "cancelled"
        finals = [e.text for e in recorder.of("transcript") if e.final]
        assert finals[-1] == "Sorry, let me put that better."
        assert len(checked[0]) >= 100  # debounced: the first check saw 100+ characters
        assert len(checked[0]) < len(BAD_REPLY)  # and came before the reply ended
        systems = [i for i in session.history if getattr(i, "role", None) == "system"]
        assert len(systems) == 1 and "no_forbidden_words" in systems[0].content[0].text
        assert len(recorder.of("guardrail_tripped")) == 1


async def test_a_trip_truncates_audio_at_what_the_listener_heard() -> None:
    agent = Agent(name="Brand", output_guardrails=[no_forbidden])
    async with recorded_session(agent, config=AUDIO, rules=SLOW_RULES) as (session, recorder):
        await session.send_text("say the forbidden thing")
        first = (await recorder.count("audio", 1))[0]
        session.played(first.item_id, 120)
        (trip,) = await recorder.count("guardrail_tripped", 1)
        assert trip.item_id == first.item_id
        (stop,) = [e for e in recorder.of("audio_interrupted") if e.reason == "guardrail"]
        assert stop.audio_end_ms == 120
        await recorder.count("agent_end", 2)
        assert session.client.conversation.truncated_ms(first.item_id) == 120
        late = [e for e in recorder.of("audio") if e.response_id == trip.response_id]
        index = recorder.events.index(stop)
        assert all(recorder.events.index(e) < index for e in late)  # no stale audio after


async def test_a_clean_reply_is_checked_at_the_end_and_never_trips() -> None:
    checked.clear()
    agent = Agent(name="Brand", output_guardrails=[no_forbidden])
    async with recorded_session(agent, rules=SLOW_RULES) as (session, recorder):
        await session.send_text("hi")
        await recorder.count("agent_end", 1)
        await recorder.wait(lambda: bool(checked), "the final check")
        assert checked == ["You said: hi"]  # short: only the final check
        assert recorder.of("guardrail_tripped") == []


def test_guardrail_helpers_validate_their_input() -> None:
    with pytest.raises(ValueError, match="debounce_text_length"):
        GuardrailWatch(0)
    guard = OutputGuardrail(guardrail_function=lambda c, a, t: GuardrailFunctionOutput(False))
    assert guard.get_name() == "<lambda>"
    watch = GuardrailWatch(5, remember=2)
    assert watch.mark_tripped("r1") and not watch.mark_tripped("r1")
    for rid in ("r2", "r3"):
        watch.mark_tripped(rid)
    assert list(watch.tripped) == ["r2", "r3"]  # bounded


async def test_a_guardrail_that_returns_the_wrong_type_says_so() -> None:
    bad = OutputGuardrail(guardrail_function=lambda c, a, t: True)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="GuardrailFunctionOutput"):
        await bad.run(RunContext(None), Agent(name="x"), "text")


async def test_a_model_that_keeps_tripping_is_corrected_a_bounded_number_of_times() -> None:
    agent = Agent(name="Brand", output_guardrails=[no_forbidden])
    async with scripted_server(RULES) as server:  # every corrected reply trips again
        session = await runner_for(server, agent).run()
        async with session:
            recorder = Recorder(session)
            limit = session.guardrails.max_corrections
            await session.send_text("say the forbidden thing")
            await recorder.count("guardrail_tripped", limit + 1)
            await recorder.count("agent_end", limit + 1)
            await session.send_text("hi")
            await recorder.wait(
                lambda: any(
                    e.final and e.text == "You said: hi" for e in recorder.of("transcript")
                ),
                "a clean reply",
            )
            assert len(recorder.of("guardrail_tripped")) == limit + 1
            systems = [i for i in session.history if getattr(i, "role", None) == "system"]
            assert len(systems) == limit
        await recorder.stop()
