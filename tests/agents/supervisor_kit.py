"""Shared by the supervisor tests (delegate, Responses): the order tool and a rule trigger."""

from __future__ import annotations

from collections.abc import Callable

from rtagents.agents import function_tool
from rtagents.engines.base import LLMRequest

lookups: list[str] = []
"""The orders ``lookup_order`` was asked for; a test clears it before it starts."""


@function_tool
def lookup_order(order: str) -> dict[str, str]:
    """Find an order.

    Args:
        order: The order id.
    """
    lookups.append(order)
    return {"order": order, "status": "shipped"}


def offers(name: str) -> Callable[[LLMRequest], bool]:
    """A scripted-rule trigger: the model is offered tool ``name`` and the user spoke last."""

    def matches(request: LLMRequest) -> bool:
        last = request.messages[-1] if request.messages else None
        offered = any(tool.name == name for tool in request.tools)
        return offered and last is not None and last.role == "user"

    return matches
