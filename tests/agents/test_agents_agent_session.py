"""An agent session against a real rtagents server (scripted model): turns, tools, handoffs."""

from __future__ import annotations

import json
from typing import Any

from agents_kit import AUDIO, TEXT, Recorder, recorded_session, runner_for, scripted_server

from rtagents.agents import Agent, RunContext, function_tool, handoff
from rtagents.engines.scripted import decode_audio, scripted_speech

calls: list[str] = []


@function_tool
def get_weather(city: str) -> dict[str, str]:
    """Tell the weather.

    Args:
        city: The city to look up.
    """
    calls.append(city)
    return {"city": city, "forecast": "sunny"}


def _agents() -> tuple[Agent[Any], Agent[Any]]:
    haiku = Agent(name="Haiku Writer", instructions="Write haikus.", voice="coral")
    greeter = Agent(
        name="Greeter",
        instructions=lambda ctx, agent: f"You greet {ctx.context['user']}.",
        tools=[get_weather],
        handoffs=[haiku],
    )
    haiku.handoffs.append(handoff(greeter, tool_name_override="transfer_to_greeter"))
    return greeter, haiku


async def test_a_text_turn_starts_and_ends_the_agent() -> None:
    greeter, _ = _agents()
    async with recorded_session(greeter, context={"user": "Ada"}) as (session, recorder):
        assert session.client.config.instructions == "You greet Ada."
        await session.send_text("hello there")
        ends = await recorder.count("agent_end", 1)
        assert ends[0].agent is greeter and ends[0].status == "completed"
        finals = [e for e in recorder.of("transcript") if e.final]
        assert finals[-1].text == "You said: hello there"
        assert recorder.of("agent_start")[0].agent is greeter
        assert recorder.of("history_updated")


async def test_a_tool_call_runs_once_and_the_model_answers_with_its_output() -> None:
    greeter, _ = _agents()
    calls.clear()
    async with recorded_session(greeter, context={"user": "Ada"}) as (session, recorder):
        await session.send_text("what is the weather")
        await recorder.count("agent_end", 2)
        (start,) = recorder.of("tool_start")
        (end,) = recorder.of("tool_end")
        assert start.tool is get_weather and end.call_id == start.call_id
        assert json.loads(end.output) == {"city": "Paris", "forecast": "sunny"}
        assert calls == ["Paris"] and session.calls.runs == {start.call_id: 1}
        finals = [e.text for e in recorder.of("transcript") if e.final]
        assert finals[-1].startswith("The tool returned:")


async def test_bad_arguments_go_back_to_the_model_as_a_tool_error() -> None:
    greeter, _ = _agents()
    calls.clear()
    async with recorded_session(greeter, context={"user": "Ada"}) as (session, recorder):
        await session.send_text("bad weather please")
        await recorder.count("agent_end", 2)
        (end,) = recorder.of("tool_end")
        assert end.error is not None and end.error.code == "invalid_arguments"
        message = json.loads(end.output)["error"]
        assert "city" in message and "town" in message
        assert calls == []
        errors = recorder.of("error")
        assert errors and errors[0].category == "tool"
        await session.send_text("hello again")  # the session goes on
        await recorder.count("agent_end", 3)


async def test_a_handoff_swaps_instructions_tools_and_voice_in_one_update() -> None:
    greeter, haiku = _agents()
    async with scripted_server() as server:
        config = {**TEXT, "audio": {"output": {"format": {"type": "audio/pcmu"}}}}
        runner = runner_for(server, greeter, context={"user": "Ada"}, config=config)
        session = await runner.run()
        async with session:
            recorder = Recorder(session)
            await session.send_text("write me a haiku")
            (event,) = await recorder.count("handoff", 1)
            assert event.from_agent is greeter and event.to_agent is haiku
            await recorder.count("agent_end", 2)
            assert session.current_agent is haiku
            config = session.client.config
            assert config.instructions == "Write haikus."
            assert [t.name for t in config.tools] == ["transfer_to_greeter"]
            assert config.audio.output.voice == "coral"  # no audio was produced yet
            assert config.audio.output.format.type == "audio/pcmu"  # formats are kept
            outputs = [i for i in session.history if i.type == "function_call_output"]
            assert json.loads(outputs[0].output) == {"assistant": "Haiku Writer"}
            assert recorder.of("agent_end")[-1].agent is haiku
            updates = [
                e for e in recorder.of("raw_model_event") if e.event.type == "session.updated"
            ]
            assert len(updates) == 2  # the initial config, then one for the whole switch
            await session.send_text("back to greeter please")
            await recorder.count("handoff", 2)
            assert session.current_agent is greeter
        await recorder.stop()


async def test_switch_agent_and_instructions_from_an_async_callable() -> None:
    async def instructions(ctx: RunContext[Any], agent: Agent[Any]) -> str:
        return f"{agent.name} for {ctx.context}"

    first = Agent(name="First", instructions="one")
    second = Agent(name="Second", instructions=instructions)
    async with recorded_session(first, context="Bo") as (session, recorder):
        await session.switch_agent(second)
        (event,) = await recorder.count("handoff", 1)
        assert event.call_id is None and event.to_agent is second
        assert session.client.config.instructions == "Second for Bo"


async def test_a_push_to_talk_voice_turn_with_audio_out() -> None:
    async with scripted_server() as server:
        heard = {"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}}
        config = {**AUDIO, "audio": heard}
        session = await runner_for(server, Agent(name="Ear"), config=config).run()
        async with session:
            recorder = Recorder(session)
            await session.send_audio(scripted_speech("good morning") + bytes(9600), commit=True)
            (end,) = await recorder.count("agent_end", 1)
            assert end.status == "completed"
            users = [e for e in recorder.of("transcript") if e.role == "user"]
            assert [u.text for u in users] == ["good morning"]
            (done,) = await recorder.count("audio_end", 1)
            audio = b"".join(e.data for e in recorder.of("audio") if e.item_id == done.item_id)
            assert decode_audio(audio) == "You said: good morning"
            assert session.audio_produced
        await recorder.stop()


async def test_after_audio_a_handoff_keeps_the_voice_the_protocol_fixed() -> None:
    greeter, haiku = _agents()
    async with scripted_server() as server:
        runner = runner_for(server, greeter, context={"user": "Ada"}, config=AUDIO)
        session = await runner.run()
        async with session:
            recorder = Recorder(session)
            voice = session.client.config.audio.output.voice
            await session.send_text("hello")
            await recorder.count("agent_end", 1)
            assert session.audio_produced
            await session.send_text("a haiku please")
            await recorder.count("handoff", 1)
            assert session.client.config.audio.output.voice == voice  # not coral
            assert session.client.config.instructions == "Write haikus."
            session.audio_produced = False  # as if the audio had bypassed the events
            await session.switch_agent(haiku)  # the server refuses the voice: retried without
            assert session.audio_produced and session.current_agent is haiku
            (refused,) = await recorder.count("error", 1)
            assert refused.error.code == "cannot_update_voice"
        await recorder.stop()
