"""The retail store's tools over a small in-memory catalogue (a stand-in for its back office).

Each tool returns a plain sentence, because the scenario rules speak a tool's
output as it is (``say = "{output}"``), and a real model reads it just as
well. The per-call state (who is verified, what is in the cart, which returns
were started) lives in :class:`RetailContext`, passed as the run context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..agents import ToolContext, function_tool


@dataclass
class RetailContext:
    """One caller's state; tools read and change it (never a global)."""

    verified_name: str | None = None
    cart: list[str] = field(default_factory=list)
    returns_started: list[str] = field(default_factory=list)


CUSTOMERS = {("2065550134", "1990-03-03"): "Maya"}
ORDERS: dict[str, dict[str, Any]] = {
    "4521": {"item": "Powder Glide 158 snowboard", "delivered": "November 28", "days_ago": 8},
    "7788": {"item": "Trail Binding set", "delivered": "August 2", "days_ago": 126},
}
RETURN_WINDOW_DAYS = 30
DEALS = {
    "snowboards": "The Powder Glide 158 is 20 percent off this week, now 399 dollars.",
    "boots": "Our Alpine Lace boots are two for one with any board.",
    # The supplier's own copy, read aloud unchanged: it names a rival brand,
    # which the brand guardrail must stop the agent from saying.
    "goggles": "Supplier note: these goggles are clearer than the overpriced Frostline "
    "junk, and 40 percent off.",
}
MONTHS = (
    "january february march april may june july august september october november december"
).split()


def _digits(phone_number: str) -> str:
    return re.sub(r"\D", "", phone_number)[-10:]


def _iso_date(spoken: str) -> str | None:
    """'march 3rd, 1990' -> '1990-03-03' (None when it is not a date)."""
    found = re.fullmatch(r"\s*([a-z]+) (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})\s*", spoken.lower())
    if found is None or found.group(1) not in MONTHS:
        return None
    month = MONTHS.index(found.group(1)) + 1
    return f"{found.group(3)}-{month:02d}-{int(found.group(2)):02d}"


@function_tool
def authenticate_user(
    ctx: ToolContext[RetailContext], phone_number: str, date_of_birth: str
) -> str:
    """Verify the caller before anything account-related.

    Args:
        phone_number: The phone number on the account, as the caller said it.
        date_of_birth: The caller's date of birth, e.g. "march 3, 1990".
    """
    name = CUSTOMERS.get((_digits(phone_number), _iso_date(date_of_birth) or ""))
    if name is None:
        return "I couldn't match that phone number and date of birth. Could you repeat them?"
    ctx.context.verified_name = name
    return f"Thanks {name}, you're verified. Do you want to return something, or shop?"


@function_tool
def lookup_order(order_id: str) -> str:
    """Find an order by its number.

    Args:
        order_id: The order number the caller gave.
    """
    order = ORDERS.get(order_id.strip().lstrip("#"))
    if order is None:
        return f"I can't find an order {order_id}. Could you check the number?"
    return f"Order {order_id} is the {order['item']}, delivered on {order['delivered']}."


@function_tool
def check_return_eligibility(order_id: str, reason: str) -> str:
    """Check whether an order can still be returned, and for this reason.

    Args:
        order_id: The order number.
        reason: Why the caller wants to return it, in their words.
    """
    order = ORDERS.get(order_id.strip().lstrip("#"))
    if order is None:
        return f"I can't find an order {order_id}, so I can't check it."
    if int(order["days_ago"]) > RETURN_WINDOW_DAYS:
        return f"Order {order_id} is past our {RETURN_WINDOW_DAYS} day return window."
    return f"Good news: order {order_id} can be returned, it is within our return window."


# A refund moves money: a person approves it, every time, in this store.
@function_tool(needs_approval=True)
def process_return(ctx: ToolContext[RetailContext], order_id: str) -> str:
    """Start the return of an order and email the caller a prepaid label.

    Args:
        order_id: The order number to return.
    """
    order = ORDERS.get(order_id.strip().lstrip("#"))
    if order is None:
        return f"I can't find an order {order_id} to return."
    ctx.context.returns_started.append(order_id)
    return f"Your return for order {order_id} is started; a prepaid label is on its way."


@function_tool
def find_deals(category: str) -> str:
    """Today's deals in a product category.

    Args:
        category: What the caller is shopping for, e.g. snowboards, boots, goggles.
    """
    key = category.lower().strip()
    deal = DEALS.get(key) or DEALS.get(key + "s")
    return deal or f"No deals on {category} today, but everything in store is in stock."


@function_tool
def add_to_cart(ctx: ToolContext[RetailContext], item: str) -> str:
    """Put an item in the caller's cart.

    Args:
        item: The product, as the caller named it.
    """
    ctx.context.cart.append(item)
    return f"I've added the {item} to your cart; that's {len(ctx.context.cart)} item so far."
