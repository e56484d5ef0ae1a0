"""Who is calling: the server API key, or an ephemeral client secret.

Servers send ``Authorization: Bearer <key>``; browsers cannot set headers on a
WebSocket, so they offer the subprotocols ``realtime`` and
``openai-insecure-api-key.<key>`` instead. Either way the credential is an API
key (full access, may mint secrets) or an ``ek_`` secret (opens sessions with
its bound config, may not mint). Each refusal says exactly what was wrong.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.responses import JSONResponse

from .stores.client_secrets import IssuedSecret, SecretIssuer, SecretRejected, looks_like_secret

BROWSER_PROTOCOL = "realtime"
KEY_PROTOCOL_PREFIX = "openai-insecure-api-key."


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated caller; ``secret`` is set when it presented an ``ek_``."""

    kind: Literal["api_key", "client_secret"]
    secret: IssuedSecret | None = None

    @property
    def bound_session(self) -> Mapping[str, Any] | None:
        return self.secret.session if self.secret else None


class Refusal(Exception):
    """A request refused before it is served: an HTTP status and a JSON ``error`` body.

    Raised by authentication here and by the WebSocket admission checks; the
    app and the WebSocket denial both answer with :meth:`response`.
    """

    def __init__(
        self, status: int, code: str | None, message: str, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "type": "invalid_request_error",
                "code": self.code,
                "message": self.message,
                "param": self.param,
            }
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status)


@dataclass(frozen=True, slots=True)
class Credential:
    value: str
    source: Literal["header", "subprotocol"]


def bearer_credential(headers: Mapping[str, str]) -> Credential | None:
    """The token of ``Authorization: Bearer <token>``, if the header is there."""
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal(
            401,
            "invalid_api_key",
            "The Authorization header must be 'Bearer <API key or client secret>'.",
        )
    return Credential(token.strip(), "header")


def subprotocol_credential(subprotocols: Iterable[str]) -> Credential | None:
    """The key a browser put in ``openai-insecure-api-key.<key>``, if any."""
    for protocol in subprotocols:
        if protocol.startswith(KEY_PROTOCOL_PREFIX):
            return Credential(protocol[len(KEY_PROTOCOL_PREFIX) :], "subprotocol")
    return None


class Authenticator:
    """Checks credentials against the API key and the secret issuer."""

    def __init__(self, api_key: str, issuer: SecretIssuer) -> None:
        self._api_key = api_key
        self._issuer = issuer

    async def authenticate(
        self, credential: Credential | None, *, allow_secret: bool = True
    ) -> Principal:
        if credential is None:
            raise Refusal(
                401,
                "missing_credentials",
                "No credentials: send 'Authorization: Bearer <API key or client secret>' "
                "(browsers: the subprotocols 'realtime' and "
                "'openai-insecure-api-key.<client secret>').",
            )
        if looks_like_secret(credential.value):
            if not allow_secret:
                raise Refusal(
                    403,
                    "insufficient_permissions",
                    "A client secret cannot mint client secrets; call this endpoint from "
                    "your backend with the server API key.",
                )
            try:
                secret = await self._issuer.verify(credential.value)
            except SecretRejected as exc:
                raise Refusal(401, "invalid_client_secret", exc.message) from exc
            return Principal(kind="client_secret", secret=secret)
        if hmac.compare_digest(credential.value.encode(), self._api_key.encode()):
            return Principal(kind="api_key")
        raise Refusal(
            401,
            "invalid_api_key",
            "Incorrect API key: it is neither this server's API key nor a client secret "
            "(ek_...). Check the key the server printed at start (or --api-key).",
        )
