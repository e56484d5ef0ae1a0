"""The async client SDK: works the same against OpenAI's Realtime API and rtagents."""

from __future__ import annotations

from .connector import SessionConnector, connect
from .credentials import ClientSecret, Credentials, mint_client_secret, resolve_credentials
from .events import (
    ERROR,
    FAILED,
    LIFECYCLE,
    RECONNECTING,
    RESUMED,
    STALLED,
    EventTimeout,
    FailedEvent,
    LifecycleEvent,
    ReconnectingEvent,
    ResumedEvent,
    SessionEvent,
    StalledEvent,
)
from .handlers import ALL, Handler
from .opening import TransportOpener, realtime_url
from .playback import PlaybackTracker
from .policy import CLOSE_CODE_POLICY, Decision, ReconnectPolicy
from .session import Session
from .tools import Tool, ToolRunner

__all__ = [
    "ALL",
    "CLOSE_CODE_POLICY",
    "ERROR",
    "FAILED",
    "LIFECYCLE",
    "RECONNECTING",
    "RESUMED",
    "STALLED",
    "Decision",
    "FailedEvent",
    "PlaybackTracker",
    "ReconnectPolicy",
    "ReconnectingEvent",
    "ResumedEvent",
    "StalledEvent",
    "Tool",
    "ToolRunner",
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
