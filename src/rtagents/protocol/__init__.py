"""The sans-I/O protocol core: codec, lifecycle, conversation state, audio, errors.

Importing this package is cheap: it loads neither ``openai`` nor ``pydantic``
nor ``numpy``. Those come with the submodules that need them
(``rtagents.protocol.codec``, ``.conversation``, ``.audio``), imported explicitly.
"""

from .errors import (
    Category,
    ConnectionFailure,
    LocalProtocolError,
    ModelError,
    Origin,
    ProtocolError,
    RealtimeError,
    RemoteProtocolError,
    ToolError,
)
from .lifecycle import TRANSITIONS, Lifecycle, State, Transition, Trigger

__all__ = [
    "TRANSITIONS",
    "Category",
    "ConnectionFailure",
    "Lifecycle",
    "LocalProtocolError",
    "ModelError",
    "Origin",
    "ProtocolError",
    "RealtimeError",
    "RemoteProtocolError",
    "State",
    "ToolError",
    "Transition",
    "Trigger",
]
