"""chatSupervisor: a junior voice agent that greets, then relays every real question.

The junior agent handles hellos itself; anything else goes through one tool,
``get_next_response_from_supervisor``, to a supervisor text model with the
account, policy and store tools: a :func:`~rtagents.agents.delegate` tool
(filler and trace from :mod:`.supervisor`). The junior says a filler line
first and then speaks the supervisor's answer as it is. Names match
``rules/chat_supervisor.toml``.
"""

from __future__ import annotations

from typing import Any

from ..agents import Agent, ChatModel, FunctionTool, delegate, function_tool
from .catalog import Call, Scenario, ServerLink
from .supervisor import FILLER, FILLER_INSTRUCTIONS, SupervisorTrace, record_call

COMPANY = "NewTelco"
JUNIOR_INSTRUCTIONS = (
    f"You are a new customer service agent at {COMPANY}. Greet callers and make small "
    "talk yourself. For everything else, first say a short holding phrase, then call "
    "get_next_response_from_supervisor with the relevant context and the caller's last "
    "message, and read its answer to the caller word for word."
)
SUPERVISOR_INSTRUCTIONS = (
    f"You are the expert supervisor behind a junior {COMPANY} phone agent. Answer the "
    "caller's question in one or two spoken sentences, using your tools for account, "
    "policy and store facts; never guess those."
)
ACCOUNTS = {"2065550134": {"name": "Alex Rivera", "balance_due": "42.17", "due": "December 15"}}
POLICIES = {
    "roaming": "International roaming is 5 dollars a day in 120 countries, capped monthly.",
    "late fee": "A late payment adds a 7 dollar fee after a 10 day grace period.",
    "contract": "Plans are month to month; there is no contract to break.",
    "cancel": "You can cancel any time online or by phone, with no cancellation fee.",
}
STORES = {"98101": "NewTelco Pike Street, 1500 Pike Street, open 9 to 7."}


@function_tool
def get_user_account_info(phone_number: str) -> dict[str, str]:
    """Look up a customer's account: name, balance due and due date.

    Args:
        phone_number: The phone number on the account.
    """
    digits = "".join(c for c in phone_number if c.isdigit())[-10:]
    account = ACCOUNTS.get(digits)
    return dict(account) if account else {"error": f"no account for {phone_number}"}


@function_tool
def lookup_policy_document(topic: str) -> str:
    """The company policy on a topic (roaming, late fees, contracts, cancelling).

    Args:
        topic: What the caller asked about.
    """
    key = topic.lower()
    for name, text in POLICIES.items():
        if name in key or key.startswith(name):
            return text
    return f"There is no policy document about {topic}."


@function_tool
def find_nearest_store(zip_code: str) -> str:
    """The store nearest to a ZIP code.

    Args:
        zip_code: A five digit ZIP code.
    """
    return STORES.get(zip_code.strip(), f"There is no {COMPANY} store near {zip_code}.")


SUPERVISOR_TOOLS: tuple[FunctionTool, ...] = (
    get_user_account_info,
    lookup_policy_document,
    find_nearest_store,
)


def supervisor_model(link: ServerLink) -> ChatModel:
    """The supervisor's text model: the server's own ``/v1/chat/completions`` offline."""
    # 45 s a call: a small local model on a busy CPU is slow; 120 tokens: a spoken
    # answer is a sentence or two, and the bound keeps a slow model inside the deadline.
    return ChatModel(
        f"{link.http_url}/v1", "supervisor", api_key=link.api_key, timeout_s=45.0, max_tokens=120
    )


def supervisor_tool(model: ChatModel, *, deadline_s: float = 55.0) -> FunctionTool:
    """The junior agent's one tool: filler now, the supervisor's answer as the output."""
    return delegate(
        model,
        instructions=SUPERVISOR_INSTRUCTIONS,
        tools=SUPERVISOR_TOOLS,
        name="get_next_response_from_supervisor",
        description="Ask the supervisor what to say next; read its answer to the caller verbatim.",
        argument="relevant_context_and_last_user_message",
        argument_description=(
            "What the caller just said, with any details from earlier in the call the "
            "supervisor needs."
        ),
        filler=FILLER,
        filler_instructions=FILLER_INSTRUCTIONS,
        history=0,  # the argument carries the context; the rules match it alone
        on_tool_call=record_call,
        deadline_s=deadline_s,
        max_turns=4,
    )


def build(link: ServerLink) -> Agent[Any]:
    """The junior agent; its supervisor answers at ``link`` (the same server, offline)."""
    return Agent(
        name="chat_agent",
        instructions=JUNIOR_INSTRUCTIONS,
        tools=[supervisor_tool(supervisor_model(link))],
    )


BALANCE = "What's the balance on my account? My number is 206 555 0134."
# Digit by digit, so that Whisper writes the number back (see Call.say_as).
BALANCE_SPOKEN = (
    "What's the balance on my account? My number is two oh six, five five five, "
    "zero one three four."
)
SCENARIO = Scenario(
    name="chat_supervisor",
    summary="a junior voice agent relaying every real question to a supervisor text model",
    build=build,
    new_context=SupervisorTrace,
    calls=(
        Call(
            "billing, a store and a policy",
            (
                "Hello",
                BALANCE,
                "Which store is closest to 98101?",
                "What does roaming cost when I travel?",
            ),
            say_as={BALANCE: BALANCE_SPOKEN},
        ),
    ),
)
