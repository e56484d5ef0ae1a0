"""The browser console: its static page, and the endpoint that gives it a secret.

The page (``rtagents/web``, see docs/console.md) must never hold the server's
API key, so it asks ``POST /console/client_secret`` for a short-lived ``ek_``
secret that the server mints with its own authority. Whoever can call that
endpoint can therefore open sessions, which is why it is on only where that
is the operator alone: a loopback bind, unless ``ServerConfig.console`` says
otherwise. Two ways a browser can reach a loopback server on another site's
behalf are refused as well: a foreign page posting to it (its ``Origin`` is
not the server's) and DNS rebinding (a foreign name in ``Host`` that resolves
to 127.0.0.1). No CORS headers are ever sent, so no other origin can read a
minted secret.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .auth import Refusal
from .config import ServerConfig
from .console_turns import TURNS_PATH, call_turns
from .state import ServerState

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
SECRET_PATH = "/console/client_secret"

# The page loads only its own files and talks only to this server.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; media-src 'self' blob: mediastream:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

# (request, state, minted_by): the app's minting, which counts each minter's rate.
Minter = Callable[[Request, ServerState, str], Awaitable[Response]]


def is_loopback(host: str) -> bool:
    """Whether a host name or address can only be reached from this machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def console_enabled(config: ServerConfig) -> bool:
    """The explicit setting, else on exactly when the server binds to loopback."""
    return is_loopback(config.host) if config.console is None else config.console


def console_routes(mint: Minter) -> list[BaseRoute]:
    """``/`` (the page), its assets under ``/console/``, the secret endpoint, a call's marks.

    ``mint`` is the app's secret minting (passed in rather than imported, since
    the app imports this module).
    """

    async def client_secret(request: Request) -> Response:
        state: ServerState = request.app.state.rtagents
        try:
            check_console_request(request, state.config)
        except Refusal as exc:
            return exc.response()
        response = await mint(request, state, console_minter(request))
        response.headers["Cache-Control"] = "no-store"
        return response

    return [
        Route("/", _index, methods=["GET"]),
        Route(SECRET_PATH, client_secret, methods=["POST"]),
        Route(TURNS_PATH, call_turns, methods=["GET"]),  # the page's stage bars
        Mount("/console", app=StaticFiles(directory=WEB_DIR), name="console"),
    ]


def console_minter(request: Request) -> str:
    """Who mints through the console: its client's address (one rate per address).

    The endpoint takes no credentials, so the address is the only name a
    caller has; on a loopback bind every caller is a local process.
    """
    return f"console:{request.client.host if request.client else 'unknown'}"


async def _index(request: Request) -> Response:
    return FileResponse(WEB_DIR / "index.html", headers=_PAGE_HEADERS)


def check_console_request(request: Request, config: ServerConfig) -> None:
    """Raise :class:`Refusal` (403) unless the console may mint for this request."""
    if not console_enabled(config):
        raise Refusal(
            403,
            "console_disabled",
            f"The console's secret endpoint is off: this server listens on {config.host}, "
            "not on loopback, so anyone who can reach it could open sessions. Mint a secret "
            "from your backend (POST /v1/realtime/client_secrets with the API key, or "
            "'rtagents mint') and paste it into the console, or start the server with "
            "--console if everyone who can reach it may use it.",
        )
    host_header = request.headers.get("host", "")
    if is_loopback(config.host) and not is_loopback(_hostname(host_header)):
        raise Refusal(
            403,
            "console_host_refused",
            f"The Host header names '{host_header}', not a loopback name, although this "
            "server listens on loopback: a page of another site may be reaching it through "
            "DNS rebinding. Open the console at http://127.0.0.1:<port>/ or "
            "http://localhost:<port>/.",
        )
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc.lower() != host_header.lower():
        raise Refusal(
            403,
            "console_cross_origin",
            f"A page from {origin} asked for a console secret; only the console page "
            "served by this server may. Open the console from this server's own address.",
        )


def _hostname(host_header: str) -> str:
    """The name part of a ``Host`` header (``[::1]:8000`` -> ``::1``)."""
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.rpartition(":")[0] if ":" in host_header else host_header
