"""Interop with openai-agents (the optional ``openai-agents`` extra), both ways.

:func:`from_openai_agents` turns a ``RealtimeAgent`` graph into rtagents
agents; :class:`RtagentsRealtimeModel` is an openai-agents ``RealtimeModel``
backed by the rtagents client session, so a ``RealtimeRunner`` app gains
reconnect, resume and classified errors through one ``model=`` argument.
Importing this package imports openai-agents (about 1.5-3 s); the rest of
:mod:`rtagents.agents` never does.
"""

from __future__ import annotations

try:
    import agents.realtime  # noqa: F401 - fail here, with the fix, not deep inside
except ImportError as exc:  # pragma: no cover - the extra is installed in development
    raise ImportError(
        "rtagents.agents.compat needs openai-agents: pip install 'rtagents[openai-agents]'"
    ) from exc

from .convert import from_openai_agents
from .model import RtagentsRealtimeModel

__all__ = ["RtagentsRealtimeModel", "from_openai_agents"]
