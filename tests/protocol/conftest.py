"""Fixtures for the protocol tests; the event factory lives in ``protocol_events``."""

from __future__ import annotations

import pytest
from protocol_events import ServerEvents


@pytest.fixture
def server_events() -> ServerEvents:
    return ServerEvents()
