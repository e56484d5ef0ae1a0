"""customerServiceRetail: authentication -> returns / sales -> a human, for a snowboard shop.

Every agent carries the brand guardrail; the returns agent's refund tool
needs a person's approval. Tool and agent names match
``rules/customer_service_retail.toml``.
"""

from __future__ import annotations

from ..agents import Agent
from .brand_guardrail import brand_safety
from .catalog import Call, Scenario, ServerLink
from .retail_tools import (
    RetailContext,
    add_to_cart,
    authenticate_user,
    check_return_eligibility,
    find_deals,
    lookup_order,
    process_return,
)

BRAND = "Northpeak Boards"
HOUSE_STYLE = (
    f"You work for {BRAND}, a snowboard shop. Be brief and friendly; speak only of "
    f"{BRAND} products, never of other brands."
)


def _instructions(role: str) -> str:
    return f"{HOUSE_STYLE} {role}"


def build(link: ServerLink | None = None) -> Agent[RetailContext]:
    """The authentication agent, with returns, sales and a human one handoff away."""
    human_agent: Agent[RetailContext] = Agent(
        name="human_agent",
        instructions=_instructions(
            "You are the human escalation desk. Acknowledge what happened so far and "
            "take over the conversation."
        ),
        handoff_description="A person, for anything the agents cannot or should not handle.",
        output_guardrails=[brand_safety],
    )
    returns: Agent[RetailContext] = Agent(
        name="returns",
        instructions=_instructions(
            "You handle returns. Look the order up, check it is eligible with the caller's "
            "reason, and only then process the return."
        ),
        tools=[lookup_order, check_return_eligibility, process_return],
        handoffs=[human_agent],
        handoff_description="Returns, refunds, damaged or unwanted items.",
        output_guardrails=[brand_safety],
    )
    sales: Agent[RetailContext] = Agent(
        name="sales",
        instructions=_instructions(
            "You help callers shop: tell them about deals and add what they want to the cart."
        ),
        tools=[find_deals, add_to_cart],
        handoffs=[human_agent],
        handoff_description="Deals, product questions and buying.",
        output_guardrails=[brand_safety],
    )
    return Agent(
        name="authentication",
        instructions=_instructions(
            "Greet the caller and verify them first: ask for their phone number and date of "
            "birth and call authenticate_user. Then send them to returns or sales, or to a "
            "human if they ask for one."
        ),
        tools=[authenticate_user],
        handoffs=[returns, sales, human_agent],
        output_guardrails=[brand_safety],
    )


VERIFY = "My phone number is 206 555 0134 and I was born on march 3, 1990."
# What Piper should read for VERIFY so that Whisper writes the digits back (see Call.say_as).
VERIFY_SPOKEN = (
    "My phone number is two oh six, five five five, zero one three four, "
    "and I was born on March 3, 1990."
)
# Read as a year ("forty-five twenty-one"), Whisper writes 4521; as a number, "4,521".
ELIGIBLE = "Can I return it? It's order 4521, the edge is cracked."
ELIGIBLE_SPOKEN = "Can I return it? It's order forty-five twenty-one, the edge is cracked."
SCENARIO = Scenario(
    name="customer_service_retail",
    summary="authentication -> returns / sales -> human, with a brand guardrail",
    build=build,
    new_context=RetailContext,
    calls=(
        Call(
            "a damaged snowboard (returns, with an approval)",
            (
                "Hi, I'd like to verify my account please.",
                VERIFY,
                "I want to return my snowboard, it arrived damaged.",
                "The order number is 4521.",
                ELIGIBLE,
                "Please go ahead with the return for order 4521.",
            ),
            say_as={VERIFY: VERIFY_SPOKEN, ELIGIBLE: ELIGIBLE_SPOKEN},
        ),
        Call(
            "shopping (sales, the guardrail trips, then a human)",
            (
                VERIFY,
                "I'd like to buy a new snowboard.",
                "Do you have any deals on goggles?",
                "Please add the powder glide snowboard to my cart.",
                "Can I speak to a manager?",
            ),
            say_as={VERIFY: VERIFY_SPOKEN},
        ),
    ),
)
