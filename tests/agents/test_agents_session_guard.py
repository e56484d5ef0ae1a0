"""Stopping a reply with ``interrupt()``: cancel, truncate at what was heard, clear on WebRTC."""

from __future__ import annotations

from agents_kit import AUDIO, RULES, Recorder, runner_for, scripted_server

from rtagents.agents import Agent
from rtagents.client.webrtc_call import WebRTCCall
from rtagents.engines.scripted import Rule, Say

LONG = [Rule(when="story", then=Say("once upon a time " * 20, token_delay_s=0.03)), *RULES]


async def test_interrupt_over_websocket_cancels_and_truncates_at_the_played_ms() -> None:
    async with scripted_server(LONG) as server:
        session = await runner_for(server, Agent(name="Teller"), config=AUDIO).run()
        async with session:
            recorder = Recorder(session)
            await session.send_text("tell a story")
            first = (await recorder.count("audio", 1))[0]
            session.played(first.item_id, 40)
            await session.interrupt()
            (stop,) = await recorder.count("audio_interrupted", 1)
            assert stop.item_id == first.item_id and stop.audio_end_ms == 40
            assert stop.reason == "interrupt"
            (end,) = await recorder.count("agent_end", 1)
            assert end.status == "cancelled"
            await recorder.wait(
                lambda: session.client.conversation.truncated_ms(first.item_id) == 40,
                "the truncation",
            )
            index = recorder.events.index(stop)
            assert not [e for e in recorder.events[index:] if e.type == "audio"]
            await session.interrupt()  # nothing playing: a no-op, not an error
            assert recorder.of("error") == []
        await recorder.stop()


async def test_interrupt_over_webrtc_cancels_and_clears_the_output_buffer() -> None:
    async with scripted_server(LONG, webrtc=True) as server:
        call = WebRTCCall(loopback=True)
        runner = runner_for(server, Agent(name="Teller"), config=AUDIO, transport=call)
        runner.url = server.http_url
        assert runner.webrtc
        session = await runner.run()
        async with session:
            recorder = Recorder(session)
            await session.send_text("tell a story")
            await recorder.wait(
                lambda: any(
                    e.event.type == "output_audio_buffer.started"
                    for e in recorder.of("raw_model_event")
                ),
                "playback to start",
            )
            await session.interrupt()
            (end,) = await recorder.count("agent_end", 1)
            assert end.status == "cancelled"
            await recorder.wait(
                lambda: any(
                    e.event.type == "output_audio_buffer.cleared"
                    for e in recorder.of("raw_model_event")
                ),
                "the output buffer to be cleared",
            )
            assert [e.reason for e in recorder.of("audio_interrupted")] == ["interrupt"]
            assert [e for e in recorder.of("error")] == []
        await recorder.stop()
