"""Shared fixtures for the server tests: a live server and a raw client on it.

A test module that needs another configuration overrides ``server``; ``client``
then connects to that one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from server_harness import RawClient, session

from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0)) as running:
        yield running


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[RawClient]:
    async with session(server) as connected:
        yield connected
