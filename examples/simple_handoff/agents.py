"""simpleHandoff: a greeter hands poem requests to a haiku writer.

The agents live in the package (``rtagents.scenarios.simple_handoff``) so that
``rtagents demo --scenario simple_handoff`` works from an installed wheel; this file is
the runnable entry. Against a server started with this folder's rules::

    rtagents serve --engine scripted --scenario-rules examples/simple_handoff/rules.toml
    python examples/simple_handoff/agents.py --url http://127.0.0.1:8000 --api-key $KEY

(``--engine local`` for real speech engines; a model that chooses tools itself,
e.g. ``--llm-url``, needs no rules file.)
"""

from __future__ import annotations

import sys

from rtagents.scenarios.live import main
from rtagents.scenarios.simple_handoff import SCENARIO, build

__all__ = ["SCENARIO", "build"]

if __name__ == "__main__":
    sys.exit(main(SCENARIO.name))
