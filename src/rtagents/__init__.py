"""rtagents: realtime voice agents on the OpenAI Realtime GA protocol.

``import rtagents`` loads nothing but this file: every public name is resolved
on first use (PEP 562), so a CLI, a worker or a test that only needs one corner
does not pay for pydantic, openai and websockets up front.

    async with rtagents.connect(url, credentials=key, model="gpt-realtime") as session:
        ...
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

# A library stays quiet until the application configures logging (the standard
# NullHandler convention); ``rtagents.observability.configure_logging`` or the
# app's own handlers make the structured event log visible.
logging.getLogger("rtagents").addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from .client import (
        ClientSecret,
        EventTimeout,
        LifecycleEvent,
        ReconnectPolicy,
        Session,
        SessionConnector,
        connect,
        mint_client_secret,
    )
    from .protocol import errors
    from .protocol.errors import (
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
    from .transports.base import TransportClosed

    __version__: str

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "connect": "rtagents.client",
    "Session": "rtagents.client",
    "SessionConnector": "rtagents.client",
    "mint_client_secret": "rtagents.client",
    "ClientSecret": "rtagents.client",
    "LifecycleEvent": "rtagents.client",
    "ReconnectPolicy": "rtagents.client",
    "EventTimeout": "rtagents.client",
    "Category": "rtagents.protocol.errors",
    "Origin": "rtagents.protocol.errors",
    "RealtimeError": "rtagents.protocol.errors",
    "ConnectionFailure": "rtagents.protocol.errors",
    "ProtocolError": "rtagents.protocol.errors",
    "LocalProtocolError": "rtagents.protocol.errors",
    "RemoteProtocolError": "rtagents.protocol.errors",
    "ModelError": "rtagents.protocol.errors",
    "ToolError": "rtagents.protocol.errors",
    "TransportClosed": "rtagents.transports.base",
}

__all__ = [
    "connect",
    "Session",
    "SessionConnector",
    "mint_client_secret",
    "ClientSecret",
    "LifecycleEvent",
    "ReconnectPolicy",
    "EventTimeout",
    "Category",
    "Origin",
    "RealtimeError",
    "ConnectionFailure",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "ModelError",
    "ToolError",
    "TransportClosed",
    "errors",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
    elif name == "errors":
        value = import_module("rtagents.protocol.errors")
    elif name == "__version__":
        value = _version()
    else:
        raise AttributeError(f"module 'rtagents' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rtagents")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+unknown"
