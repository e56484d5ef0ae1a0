"""Token budgets per API key: what ``rate_limits.updated`` reports, and what fails a response.

``rtagents serve --rate-limit-tokens N --rate-limit-window S`` gives each API
key N tokens (a response's ``usage.total_tokens``) per window of S seconds;
sessions opened with a client secret draw from the budget of the key that
minted it, as hosted rate limits belong to the account, not to the
ephemeral key. The window is fixed: it starts with the first response after
a reset and the whole budget comes back when it ends.

A response reserves its prompt's tokens (and its ``max_output_tokens``, when
set) when it starts, as the hosted API reserves output tokens; the
reservation is replaced by the real count at ``response.done``. A response
that would go past the budget fails before the model runs, with
``rate_limit_exceeded`` and the time until the window resets (the shape the
hosted API's ``response.done`` carries for a rate limit: a ``failed`` status
whose error has a ``*rate_limit_exceeded`` code, openai/openai-python#2502).
With no budget configured nothing is limited and ``rate_limits.updated``
carries an empty list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RATE_LIMITED = "rate_limit_exceeded"


class TokenBudgetExceeded(Exception):
    """A response would go past its key's token budget."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Reservation:
    """Tokens held for a response in flight, in the window they were taken from."""

    window: int
    tokens: int


class TokenBudget:
    """One key's tokens per fixed window, on the server's clock."""

    def __init__(self, tokens: int, window_s: float, clock: Callable[[], float]) -> None:
        self.limit = tokens
        self.window_s = window_s
        self._clock = clock
        self._used = 0
        self._window = 0  # counts windows, so a late settle knows its window is gone
        self._window_ends: float | None = None  # None: no window open (full budget)

    def _roll(self) -> float:
        now = self._clock()
        if self._window_ends is not None and now >= self._window_ends:
            self._used, self._window_ends, self._window = 0, None, self._window + 1
        return now

    @property
    def remaining(self) -> int:
        self._roll()
        return max(0, self.limit - self._used)

    @property
    def reset_seconds(self) -> float:
        now = self._roll()
        return 0.0 if self._window_ends is None else round(self._window_ends - now, 3)

    def reserve(self, tokens: int) -> Reservation:
        """Hold ``tokens`` for a response, or raise :class:`TokenBudgetExceeded`."""
        now = self._roll()
        remaining = self.limit - self._used
        if tokens > remaining or remaining <= 0:
            wait = 0.0 if self._window_ends is None else self._window_ends - now
            raise TokenBudgetExceeded(
                f"Rate limit reached for tokens per {self.window_s:g} s: limit {self.limit}, "
                f"used {self._used}, requested {tokens}. Please try again in {wait:.1f}s "
                "(the budget is set with rtagents serve --rate-limit-tokens)."
            )
        if self._window_ends is None:
            self._window_ends = now + self.window_s
        self._used += tokens
        return Reservation(self._window, tokens)

    def settle(self, reservation: Reservation, used: int) -> None:
        """Replace a reservation with what the response really used."""
        self._roll()
        if reservation.window == self._window:
            self._used = max(0, self._used + used - reservation.tokens)
        else:  # its window is over: what it used past the reservation counts now
            self._used += max(0, used - reservation.tokens)

    def to_wire(self) -> list[dict[str, Any]]:
        """The ``rate_limits`` list of ``rate_limits.updated``."""
        return [
            {
                "name": "tokens",
                "limit": self.limit,
                "remaining": self.remaining,
                "reset_seconds": self.reset_seconds,
            }
        ]


class TokenBudgets:
    """Every key's budget on one server (None when no budget is configured)."""

    def __init__(self, tokens: int | None, window_s: float, clock: Callable[[], float]) -> None:
        self._tokens = tokens
        self._window_s = window_s
        self._clock = clock
        self._budgets: dict[str, TokenBudget] = {}  # one per key: bounded by the keys configured

    def for_key(self, key: str) -> TokenBudget | None:
        if self._tokens is None:
            return None
        budget = self._budgets.get(key)
        if budget is None:
            budget = self._budgets[key] = TokenBudget(self._tokens, self._window_s, self._clock)
        return budget
