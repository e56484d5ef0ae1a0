"""The async client SDK: works the same against OpenAI's Realtime API and rtagents."""

from __future__ import annotations

from .connector import SessionConnector, connect
from .credentials import ClientSecret, Credentials, mint_client_secret, resolve_credentials
from .events import ERROR, LIFECYCLE, EventTimeout, LifecycleEvent, SessionEvent
from .handlers import ALL, Handler
from .opening import TransportOpener, realtime_url
from .session import Session

__all__ = [
    "ALL",
    "ERROR",
    "LIFECYCLE",
    "ClientSecret",
    "Credentials",
    "EventTimeout",
    "Handler",
    "LifecycleEvent",
    "Session",
    "SessionConnector",
    "SessionEvent",
    "TransportOpener",
    "connect",
    "mint_client_secret",
    "realtime_url",
    "resolve_credentials",
]
