"""``rtagents doctor connect URL``: a Realtime server checked one step at a time.

WebSocket: DNS, TCP, TLS (wss), the HTTP auth and the WebSocket upgrade (one
handshake, judged twice: a 401/403 is the credential, any other non-101 answer
means the URL is not a Realtime endpoint), ``session.created`` and a text turn.
``--webrtc`` swaps the middle for the SDP exchange, ICE, DTLS and the data
channel (``doctor_webrtc``). The first failure stops the run, exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ..protocol.errors import Category, ConnectionFailure
from ..transports.websocket import HandshakeRejected, WebSocketTransport, connect_websocket
from .doctor_auth import auth_failure, auth_headers
from .doctor_network import Target, network_steps
from .doctor_session import check_session_created, check_text_turn
from .doctor_steps import ConnectStep, StepFailed, StepResult, print_result, run_steps
from .failures import CliError

_WS_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_REALTIME_PATH = "/v1/realtime"


def websocket_url(url: str) -> str:
    """``url`` as a Realtime WebSocket URL: ws(s) scheme, ``/v1/realtime`` if no path."""
    parts = urlsplit(url)
    scheme = _WS_SCHEMES.get(parts.scheme.lower(), parts.scheme)
    path = parts.path if parts.path not in ("", "/") else _REALTIME_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


@dataclass
class WebSocketCheck:
    """The WebSocket steps after the network ones; holds the open transport."""

    url: str
    credential: str | None
    timeout_s: float
    transport: WebSocketTransport | None = None
    rejection: HandshakeRejected | None = None

    def steps(self) -> list[ConnectStep]:
        return [
            ConnectStep(
                "HTTP auth",
                Category.CONNECTION,
                self._auth,
                "the server accepted the TCP "
                "connection but never answered the HTTP request: a proxy or a hung server?",
            ),
            ConnectStep(
                "WebSocket upgrade", Category.CONNECTION, self._upgrade, "no upgrade answer"
            ),
            ConnectStep(
                "session.created",
                Category.PROTOCOL,
                self._created,
                "the server upgraded "
                "but sent no session.created: is it a Realtime server? check its logs",
            ),
            ConnectStep(
                "text turn",
                Category.MODEL,
                self._turn,
                "no response.done: the model or "
                "engine is slow or stuck; check the server's logs (or raise --timeout)",
            ),
        ]

    async def _auth(self) -> str:
        try:
            self.transport = await connect_websocket(
                self.url,
                headers=auth_headers(self.credential),
                open_timeout=self.timeout_s,
                ping_interval=None,
            )
        except HandshakeRejected as rejected:
            if rejected.status == 403 and rejected.code == "forbidden":
                raise _bare_forbidden(rejected) from None
            if rejected.status in (401, 403):
                raise auth_failure(rejected.status, rejected.message, self.credential) from None
            self.rejection = rejected
            return f"not refused (the server answered HTTP {rejected.status}; see the upgrade)"
        except ConnectionFailure as failure:
            raise StepFailed(
                f"no HTTP answer: {failure.message}",
                "the port did not answer HTTP: is this the server's HTTP port?",
            ) from None
        return "credential accepted" if self.credential else "no credential needed"

    async def _upgrade(self) -> str:
        if self.transport is not None:
            chosen = self.transport.subprotocol
            return "101 Switching Protocols" + (f", subprotocol {chosen}" if chosen else "")
        assert self.rejection is not None
        raise _upgrade_failure(self.rejection, self.url)

    async def _created(self) -> str:
        assert self.transport is not None
        return await check_session_created(self.transport)

    async def _turn(self) -> str:
        assert self.transport is not None
        return await check_text_turn(self.transport)

    async def close(self) -> None:
        if self.transport is not None:
            try:
                async with asyncio.timeout(self.timeout_s):
                    await self.transport.close()
            except (TimeoutError, ConnectionFailure):
                self.transport.abort()


def _bare_forbidden(rejected: HandshakeRejected) -> StepFailed:
    """A 403 with no reason: web frameworks refuse a WebSocket to an unknown path this way."""
    return StepFailed(
        f"HTTP 403 with no reason given: {rejected.message}",
        "either no Realtime endpoint is at this path (the WebSocket is at /v1/realtime) "
        "or the credential is not allowed there: check the URL's path first",
    )


def _upgrade_failure(rejected: HandshakeRejected, url: str) -> StepFailed:
    status = rejected.status
    if status == 404:
        fix = f"no Realtime endpoint at {urlsplit(url).path!r}: the WebSocket is at /v1/realtime"
    elif status in (429, 503):
        fix = "the server is at a limit (busy or rate-limited): retry later"
    elif status >= 500:
        fix = "the server failed: check its logs"
    elif status == 400:
        fix = "the server refused the request: its message says which part"
    else:
        fix = (
            "this is not a Realtime WebSocket endpoint (a plain web server or proxy "
            "answered): point the URL at a Realtime server's /v1/realtime"
        )
    category = Category.PROTOCOL if rejected.code == "beta_protocol_retired" else None
    return StepFailed(
        f"HTTP {status} instead of 101 Switching Protocols: {rejected.message}",
        fix,
        category=category,
    )


async def check_connection(
    url: str,
    *,
    credential: str | None = None,
    webrtc: bool = False,
    loopback: bool = False,
    timeout_s: float = 10.0,
    report: Callable[[StepResult], None] = lambda result: None,
) -> list[StepResult]:
    """Every step's result, up to and including the first failure (``report``ed as they come)."""
    try:
        target = Target.from_url(url)
    except ValueError as exc:
        detail = str(exc)
        return [StepResult("URL", False, Category.CONNECTION, detail, "use ws(s):// or http(s)://")]
    if webrtc:
        from .doctor_webrtc import WebRTCCheck

        call = WebRTCCheck(url, credential, timeout_s, loopback=loopback)
        try:
            return await run_steps([*network_steps(target), *call.steps()], timeout_s, report)
        finally:
            await call.close()
    check = WebSocketCheck(websocket_url(url), credential, timeout_s)
    try:
        return await run_steps([*network_steps(target), *check.steps()], timeout_s, report)
    finally:
        await check.close()


def run_connect(args: argparse.Namespace) -> int:
    if not args.timeout > 0:
        raise CliError(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
    credential = args.secret or args.api_key
    if not args.json:
        print(f"rtagents doctor connect {args.url}" + (" (WebRTC)" if args.webrtc else ""))

    def report(result: StepResult) -> None:
        if not args.json:
            print_result(result, sys.stdout)

    results = asyncio.run(
        check_connection(
            args.url,
            credential=credential,
            webrtc=args.webrtc,
            loopback=args.loopback,
            timeout_s=args.timeout,
            report=report,
        )
    )
    ok = all(r.ok for r in results)
    if args.json:
        print(json.dumps({"url": args.url, "ok": ok, "steps": [r.to_dict() for r in results]}))
    elif ok:
        print(f"all {len(results)} steps passed.")
    return 0 if ok else 1
