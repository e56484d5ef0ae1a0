"""The network half of ``doctor connect``: DNS, TCP and TLS, each on its own.

A WebSocket library reports all three as "could not connect"; checked one at
a time, the first one that fails says where the problem is (the name, the
route or port, or the certificate) before any HTTP is spoken.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..protocol.errors import Category
from .doctor_steps import ConnectStep, StepFailed

_DEFAULT_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}
_SHOWN_ADDRESSES = 4


@dataclass
class Target:
    """Where a URL points: host, port, whether TLS is used, and what DNS said."""

    host: str
    port: int
    tls: bool
    addresses: list[str] = field(default_factory=list)

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"{url!r} is not a ws://, wss://, http:// or https:// URL")
        port = parts.port or _DEFAULT_PORTS[scheme]
        return cls(parts.hostname, port, scheme in ("wss", "https"))

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def network_steps(target: Target) -> list[ConnectStep]:
    """DNS, TCP, and TLS when the URL asks for it."""
    steps = [
        ConnectStep(
            "DNS",
            Category.CONNECTION,
            lambda: _dns(target),
            "DNS did not answer: check this machine's resolver (/etc/resolv.conf) and network",
        ),
        ConnectStep(
            "TCP",
            Category.CONNECTION,
            lambda: _tcp(target),
            "no answer to the TCP connection: a firewall may drop it; check the host and port",
        ),
    ]
    if target.tls:
        steps.append(
            ConnectStep(
                "TLS",
                Category.CONNECTION,
                lambda: _tls(target),
                "the TLS handshake did not "
                "finish: is the port really TLS (wss/https)? a proxy in the way?",
            )
        )
    return steps


async def _dns(target: Target) -> str:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise StepFailed(
            f"could not resolve {target.host!r}: {exc.strerror}",
            "check the host name in the URL; if it is right, check this machine's DNS",
        ) from exc
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    target.addresses = addresses
    shown = ", ".join(addresses[:_SHOWN_ADDRESSES])
    return f"{target.host} resolved to {shown}"


async def _tcp(target: Target) -> str:
    """Connect to each resolved address in turn; the first that answers is used after."""
    failures: list[str] = []
    refused = False
    for address in target.addresses:
        try:
            _, writer = await asyncio.open_connection(address, target.port)
        except OSError as exc:
            reason = "refused" if isinstance(exc, ConnectionRefusedError) else exc.strerror
            failures.append(f"{address}: {reason or exc}")
            refused = refused or isinstance(exc, ConnectionRefusedError)
            continue
        writer.close()
        await _closed(writer)
        target.addresses = [address]
        return f"connected to {address} port {target.port}"
    fix = (
        "nothing listens there: is the server running, on this port? (rtagents serve "
        "prints the address it listens on)"
        if refused
        else "the host is not reachable: check routing, firewall, VPN or proxy settings"
    )
    raise StepFailed(f"could not connect to {target.where}: {'; '.join(failures)}", fix)


async def _tls(target: Target) -> str:
    context = ssl.create_default_context()
    try:
        _, writer = await asyncio.open_connection(
            target.addresses[0], target.port, ssl=context, server_hostname=target.host
        )
    except ssl.SSLCertVerificationError as exc:
        raise StepFailed(
            f"the certificate of {target.where} is not trusted: {exc.verify_message}",
            "a self-signed certificate or a private CA: install that CA, or point "
            "SSL_CERT_FILE at it; a name mismatch means the URL's host is not on the "
            "certificate",
        ) from exc
    except ssl.SSLError as exc:
        raise StepFailed(
            f"the TLS handshake with {target.where} failed: {exc.reason or exc}",
            "is this port speaking TLS? use ws:// or http:// for a plain server, "
            "wss:// or https:// for TLS",
        ) from exc
    except (ConnectionError, OSError) as exc:
        raise StepFailed(
            f"the connection dropped during the TLS handshake: {exc}",
            "the server closed it: is this port speaking TLS? a proxy in the way?",
        ) from exc
    tls = writer.get_extra_info("ssl_object")
    cert = tls.getpeercert() if tls is not None else None
    writer.close()
    await _closed(writer)
    version = tls.version() if tls is not None else "TLS"
    expires = cert.get("notAfter") if isinstance(cert, dict) else None
    return f"{version} with a trusted certificate for {target.host}" + (
        f" (valid until {expires})" if expires else ""
    )


async def _closed(writer: asyncio.StreamWriter) -> None:
    try:
        await writer.wait_closed()
    except (ConnectionError, ssl.SSLError, OSError):
        pass  # the peer may drop first: the step already has what it checked
