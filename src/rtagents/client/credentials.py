"""Credentials: an API key, or a callable that returns one (or mints an ``ek_`` secret).

A callable is called on every connect, so an app can mint a fresh short-lived
client secret from its backend each time instead of shipping a long-lived key.
:func:`mint_client_secret` is that backend call, against OpenAI or rtagents.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ..protocol.errors import ConnectionFailure, Origin, RealtimeError
from ..transports.rejection import read_rejection

Credentials: TypeAlias = str | Callable[[], str | Awaitable[str]]

MIN_TTL_S, MAX_TTL_S = 10, 7200


async def resolve_credentials(credentials: Credentials) -> str:
    """The key to present now; :class:`ConnectionFailure` if there is none."""
    if isinstance(credentials, str):
        return _checked(credentials, "credentials")
    if not callable(credentials):
        raise ConnectionFailure(
            f"credentials must be an API key string or a callable returning one, "
            f"got {type(credentials).__name__}",
            origin=Origin.LOCAL,
            code="invalid_credentials",
        )
    try:
        result = credentials()
        value = await result if inspect.isawaitable(result) else result
    except RealtimeError:
        raise
    except Exception as exc:
        raise ConnectionFailure(
            f"the credentials callable raised {type(exc).__name__}: {exc}",
            origin=Origin.LOCAL,
            code="credentials_failed",
        ) from exc
    return _checked(value, "the credentials callable")


def _checked(value: object, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        shown = "an empty string" if value == "" else f"{type(value).__name__}"
        raise ConnectionFailure(
            f"{source} gave {shown}; expected a non-empty API key or ek_ client secret",
            origin=Origin.LOCAL,
            code="invalid_credentials",
        )
    return value.strip()


@dataclass(frozen=True, slots=True)
class ClientSecret:
    """An ephemeral key (``ek_…``) bound to a session config until ``expires_at``."""

    value: str
    expires_at: int
    session: Mapping[str, Any] | None = field(default=None, repr=False)


def client_secrets_url(base_http_url: str) -> str:
    """``https://api.openai.com`` or ``…/v1`` -> ``…/v1/realtime/client_secrets``."""
    base = base_http_url.rstrip("/")
    if base.endswith("/v1/realtime/client_secrets"):
        return base
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/realtime/client_secrets"


async def mint_client_secret(
    base_http_url: str,
    api_key: str,
    *,
    session: Mapping[str, Any] | None = None,
    ttl_s: int = 600,
    timeout_s: float = 10.0,
) -> ClientSecret:
    """Mint a client secret (``POST /v1/realtime/client_secrets``) with a server API key.

    Works against OpenAI and rtagents alike. Failures are
    :class:`ConnectionFailure` s carrying the server's own code and message.
    """
    if not MIN_TTL_S <= ttl_s <= MAX_TTL_S:
        raise ConnectionFailure(
            f"ttl_s must be between {MIN_TTL_S} and {MAX_TTL_S} seconds, got {ttl_s}",
            origin=Origin.LOCAL,
            code="invalid_value",
            param="expires_after.seconds",
        )
    body: dict[str, Any] = {"expires_after": {"anchor": "created_at", "seconds": ttl_s}}
    if session is not None:
        body["session"] = dict(session)
    url = client_secrets_url(base_http_url)
    data = await _post_json(url, api_key, body, timeout_s)
    return _parse_secret(data, url)


async def _post_json(url: str, api_key: str, body: Mapping[str, Any], limit_s: float) -> Any:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"}
    try:
        async with httpx.AsyncClient(timeout=limit_s) as client:
            response = await client.post(url, json=body, headers=headers)
    except httpx.InvalidURL as exc:
        raise ConnectionFailure(
            f"{url!r} is not a valid URL: {exc}", origin=Origin.LOCAL, code="invalid_url"
        ) from exc
    except httpx.TimeoutException as exc:
        raise ConnectionFailure(
            f"timed out after {limit_s:g} s minting a client secret at {url}",
            origin=Origin.REMOTE,
            code="timeout",
        ) from exc
    except httpx.HTTPError as exc:
        raise ConnectionFailure(
            f"could not reach {url} to mint a client secret: {exc}",
            origin=Origin.REMOTE,
            code="connection_failed",
        ) from exc
    if response.status_code >= 400:
        raise _http_failure(response.status_code, response.content, url)
    try:
        return response.json()
    except ValueError as exc:
        raise ConnectionFailure(
            f"{url} answered HTTP {response.status_code} with a body that is not JSON",
            origin=Origin.REMOTE,
            code="invalid_response",
        ) from exc


def _http_failure(status: int, content: bytes, url: str) -> ConnectionFailure:
    rejection = read_rejection(status, content)
    return ConnectionFailure(
        f"minting a client secret at {url} failed with HTTP {status}: "
        f"{rejection.detail or 'no details'}",
        origin=rejection.origin,
        code=rejection.code,
        param=rejection.param,
    )


def _parse_secret(data: Any, url: str) -> ClientSecret:
    value = data.get("value") if isinstance(data, dict) else None
    expires_at = data.get("expires_at") if isinstance(data, dict) else None
    if not isinstance(value, str) or not isinstance(expires_at, int | float):
        raise ConnectionFailure(
            f"{url} answered without a 'value' and 'expires_at'; is it a Realtime server?",
            origin=Origin.REMOTE,
            code="invalid_response",
        )
    session = data.get("session")
    return ClientSecret(
        value=value,
        expires_at=int(expires_at),
        session=session if isinstance(session, dict) else None,
    )
