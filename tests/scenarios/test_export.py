"""The console's scenario catalogue (src/rtagents/web/scenarios.json) matches the Python agents."""

from __future__ import annotations

import json

from rtagents.scenarios.export import CONSOLE_FILE, console_catalog, render


def test_the_shipped_catalogue_is_up_to_date() -> None:
    assert CONSOLE_FILE.read_text() == render(), (
        "src/rtagents/web/scenarios.json is stale: run python -m rtagents.scenarios.export"
    )


def test_the_catalogue_says_what_the_console_needs() -> None:
    catalog = console_catalog()
    retail = next(s for s in catalog["scenarios"] if s["name"] == "customer_service_retail")
    assert retail["start"] == "authentication"
    assert retail["agents"]["authentication"]["handoffs"] == {
        "transfer_to_returns": "returns",
        "transfer_to_sales": "sales",
        "transfer_to_human_agent": "human_agent",
    }
    assert retail["agents"]["returns"]["needs_approval"] == ["process_return"]
    assert retail["agents"]["sales"]["guardrails"] == ["brand_safety"]
    tools = [t["name"] for t in retail["agents"]["sales"]["tools"]]
    assert tools == ["find_deals", "add_to_cart", "transfer_to_human_agent"]
    assert [label for label, _ in catalog["guardrail_categories"]] == [
        "VIOLENCE",
        "OFFENSIVE",
        "OFF_BRAND",
    ]
    json.dumps(catalog)  # plain JSON all the way down
