"""The client follows the server's rotating resume token through several resumes in a row.

An rtagents server hands out a new ``X-Rtagents-Resume-Token`` at every
resume and retires the old one (issue 11, hole 4), so the client must resume
the next time with the token of the *latest* handshake. Real server on
loopback, behind the fault proxy, each connection cut in turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from resilience_kit import FAST, TEXT, host_of, items, proxied, until

from rtagents import connect, mint_client_secret
from rtagents.client import ResumedEvent
from rtagents.testing.faults import Fault

CUTS = 3


async def test_three_resumes_in_a_row_each_use_the_rotated_token() -> None:
    async with proxied() as (server, proxy):
        for _ in range(CUTS):
            proxy.plan_next(Fault.cut(direction="down", at_byte=1700))
        proxy.plan_next()
        resumes: list[ResumedEvent] = []
        tokens: list[str] = []
        async with connect(
            proxy.url(), credentials=server.api_key, session=TEXT, reconnect=FAST
        ) as session:

            def remember_token(event: Any) -> None:
                resumes.append(event)
                assert session.connection is not None and session.connection.ticket is not None
                tokens.append(session.connection.ticket.token)

            session.on("rtagents.resumed", remember_token)
            assert session.connection is not None and session.connection.ticket is not None
            tokens.append(session.connection.ticket.token)
            for turn in range(12):
                if len(resumes) == CUTS:
                    break
                await session.send_text(f"turn {turn}")
                await session.create_response()
                await until(
                    lambda n=turn + 1: (
                        len(session.conversation.responses) == n
                        and not session.conversation.active_response_id
                    ),
                    f"reply {turn}",
                )
            await until(lambda: len(resumes) == CUTS, "three resumes")
            assert all(not event.rebuilt for event in resumes)
            assert len(set(tokens)) == CUTS + 1  # a new token at every resume
            host = host_of(server, session.session_id)
            assert host.resume is not None and host.resume.token == tokens[-1]
            live = session.connection
            await until(lambda: live.received == host.frames_emitted, "all frames")
            assert items(session.conversation) == items(host.conversation)


async def test_a_minting_callable_resumes_with_the_secret_that_opened_the_session() -> None:
    # The server resumes a session only for the credential that opened it, so
    # a callable minting a fresh ek_ per dial must not be asked at a resume:
    # the dialer presents the opening secret again (a rebuild mints anew).
    async with proxied() as (server, proxy):
        proxy.plan_next(Fault.cut(direction="down", at_byte=1700))
        proxy.plan_next()
        minted: list[str] = []

        async def credentials() -> str:
            secret = await mint_client_secret(server.http_url, server.api_key, session=TEXT)
            minted.append(secret.value)
            return secret.value

        async with connect(proxy.url(), credentials=credentials, reconnect=FAST) as session:
            resumed = asyncio.create_task(session.wait_for("rtagents.resumed", timeout=10))
            await asyncio.sleep(0)
            for turn in range(3):
                await session.send_text(f"turn {turn}")
                await session.create_response()
            event = await resumed
            assert isinstance(event, ResumedEvent) and not event.rebuilt
            assert len(minted) == 1
