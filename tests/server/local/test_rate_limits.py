"""Token budgets per API key: rate_limits.updated counts down, a response past it fails."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from server_harness import RawClient, memory_session

from rtagents.engines.scripted import scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.local.rate_limits import TokenBudget, TokenBudgetExceeded, TokenBudgets
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.clock import FakeClock

TEXT = {"output_modalities": ["text"]}
BUDGET = 200


def test_a_budget_reserves_settles_and_comes_back_when_its_window_ends() -> None:
    clock = FakeClock()
    budget = TokenBudget(100, 60.0, clock)
    assert (budget.remaining, budget.reset_seconds) == (100, 0.0)  # no window open yet
    held = budget.reserve(30)
    assert (budget.remaining, budget.reset_seconds) == (70, 60.0)
    budget.settle(held, 45)  # it used more than it reserved
    assert budget.remaining == 55
    clock.advance(20)
    assert budget.reset_seconds == 40.0
    refusal = r"limit 100, used 45, requested 60.*try again in 40\.0s"
    with pytest.raises(TokenBudgetExceeded, match=refusal):
        budget.reserve(60)
    late = budget.reserve(50)
    clock.advance(40)  # the window ends while that response runs
    assert budget.remaining == 100
    budget.settle(late, 80)  # only what it used past its reservation counts in the new window
    assert budget.remaining == 70


def test_no_budget_configured_means_none() -> None:
    assert TokenBudgets(None, 60.0, FakeClock()).for_key("api_key") is None
    budgets = TokenBudgets(10, 60.0, FakeClock())
    assert budgets.for_key("a") is budgets.for_key("a") is not budgets.for_key("b")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(clock: FakeClock) -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, clock=clock, rate_limit_tokens=BUDGET, rate_limit_window_s=60)
    async with running_server(config, scripted_engines()) as running:
        yield running


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[RawClient]:
    async with memory_session(server) as connected:
        session = {"type": "realtime", "instructions": "Be brief."}
        await connected.roundtrip({"type": "session.update", "session": session}, "session.updated")
        yield connected


async def test_responses_spend_the_budget_until_one_fails_then_it_resets(
    client: RawClient, clock: FakeClock
) -> None:
    remaining = [BUDGET]
    spent = 0
    for turn in range(20):
        await client.user_text(f"question number {turn} please")
        events = await client.respond(TEXT)
        done, limits = events[-2].response, events[-1].rate_limits
        if done.status == "failed":
            break
        spent += done.usage.total_tokens
        (tokens,) = limits
        assert (tokens.name, tokens.limit) == ("tokens", BUDGET)
        # Exactly what the responses used (the last one may go past what was left).
        assert tokens.remaining == max(0, BUDGET - spent)
        assert tokens.remaining < remaining[-1]
        assert 0 < tokens.reset_seconds <= 60
        remaining.append(tokens.remaining)
    else:
        pytest.fail(f"the budget never ran out: {remaining}")
    error = next(e for e in events if e.type == "error").error
    assert error.code == "rate_limit_exceeded" and "try again in" in error.message
    assert done.status_details.error.code == "rate_limit_exceeded"
    assert done.usage.total_tokens == 0  # the model never ran
    assert events[-1].rate_limits[0].remaining == remaining[-1]  # a refusal costs nothing
    clock.advance(60)
    events = await client.respond(TEXT)
    assert events[-2].response.status == "completed"
    assert events[-1].rate_limits[0].remaining == BUDGET - events[-2].response.usage.total_tokens


async def test_without_a_budget_rate_limits_updated_is_empty() -> None:
    async with (
        running_server(ServerConfig(port=0), scripted_engines()) as server,
        memory_session(server) as client,
    ):
        await client.user_text("hi")
        events = await client.respond(TEXT)
        assert events[-1].type == "rate_limits.updated" and events[-1].rate_limits == []
