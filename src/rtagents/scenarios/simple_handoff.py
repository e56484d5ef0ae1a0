"""simpleHandoff: a greeter who passes anyone wanting a poem to a haiku writer."""

from __future__ import annotations

from typing import Any

from ..agents import Agent
from .catalog import Call, Scenario, ServerLink

GREETER_INSTRUCTIONS = (
    "You answer the phone for a small poetry studio. Greet the caller warmly in one "
    "sentence. If they want a haiku or any short poem, hand them to the haiku writer "
    "straight away; otherwise chat briefly and offer the haiku writer."
)
HAIKU_WRITER_INSTRUCTIONS = (
    "You write haiku on request: three lines of five, seven and five syllables. Ask for a "
    "topic if none was given, then recite the haiku and nothing else."
)


def build(link: ServerLink | None = None) -> Agent[Any]:
    """The greeter, with the haiku writer one handoff away (``transfer_to_haiku_writer``)."""
    haiku_writer: Agent[Any] = Agent(
        name="haiku_writer",
        instructions=HAIKU_WRITER_INSTRUCTIONS,
        handoff_description="Writes a haiku on any topic the caller gives.",
    )
    return Agent(
        name="greeter",
        instructions=GREETER_INSTRUCTIONS,
        handoffs=[haiku_writer],
        handoff_description="Greets callers and routes them.",
    )


SCENARIO = Scenario(
    name="simple_handoff",
    summary="greeter -> haiku writer",
    build=build,
    calls=(
        Call(
            "a caller who wants a poem",
            (
                "Hello there!",
                "Could you write me a poem about falling snow?",
                "That was lovely, thank you.",
            ),
        ),
    ),
)
