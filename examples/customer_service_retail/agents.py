"""customerServiceRetail: authentication -> returns / sales -> a human, with a brand guardrail.

The agents live in the package (``rtagents.scenarios.customer_service_retail``) so that
``rtagents demo --scenario customer_service_retail`` works from an installed wheel; this file is
the runnable entry. Against a server started with this folder's rules::

    rtagents serve --engine scripted --scenario-rules examples/customer_service_retail/rules.toml
    python examples/customer_service_retail/agents.py --url http://127.0.0.1:8000 --api-key $KEY

(``--engine local`` for real speech engines; a model that chooses tools itself,
e.g. ``--llm-url``, needs no rules file.)
"""

from __future__ import annotations

import sys

from rtagents.scenarios.customer_service_retail import SCENARIO, build
from rtagents.scenarios.live import main

__all__ = ["SCENARIO", "build"]

if __name__ == "__main__":
    sys.exit(main(SCENARIO.name))
