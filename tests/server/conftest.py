"""Shared fixtures for the server tests: a live server and a raw client on it.

A test module that needs another configuration overrides ``server``; ``client``
then connects to that one. ``client`` reaches the server's session host over
the memory transport (the socket is not what most tests check);
``socket_client`` goes through a real WebSocket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from server_harness import RawClient, memory_session, session

from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0)) as running:
        yield running


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[RawClient]:
    async with memory_session(server) as connected:
        yield connected


@pytest.fixture
async def socket_client(server: RunningServer) -> AsyncIterator[RawClient]:
    async with session(server) as connected:
        yield connected
