"""Who is calling: the server API key, or an ephemeral client secret.

Servers send ``Authorization: Bearer <key>``; browsers cannot set headers on a
WebSocket, so they offer the subprotocols ``realtime`` and
``openai-insecure-api-key.<key>`` instead. Either way the credential is an API
key (full access, may mint secrets) or an ``ek_`` secret (opens sessions with
its bound config, may not mint). Each refusal says exactly what was wrong.

A :class:`Principal` is who is calling, as the server tells callers apart:
the API key, or one ``ek_`` secret (named by its random id). A session
belongs to the principal that opened it, and only that principal may resume
it; a secret opens sessions only for the model it was minted for, and at most
``limits.sessions_per_secret`` of them (docs/reliability.md, "Threat model").
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.responses import JSONResponse

from ..protocol.client_text import quoted
from .host.limits import Limits
from .stores.client_secrets import IssuedSecret, SecretIssuer, SecretRejected, looks_like_secret

BROWSER_PROTOCOL = "realtime"
KEY_PROTOCOL_PREFIX = "openai-insecure-api-key."


API_KEY_OWNER = "api_key"


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated caller; ``secret`` is set when it presented a stored, live ``ek_``.

    ``ident`` is the presented secret's id (also set for a resume, which
    accepts a secret past its expiry: see :meth:`Authenticator.identify`).
    """

    kind: Literal["api_key", "client_secret"]
    secret: IssuedSecret | None = None
    ident: str | None = None

    @property
    def bound_session(self) -> Mapping[str, Any] | None:
        return self.secret.session if self.secret else None

    @property
    def owner(self) -> str:
        """Who a session this principal opens belongs to: ``api_key`` or ``secret:<id>``."""
        return API_KEY_OWNER if self.kind == "api_key" else f"secret:{self.ident}"


class Refusal(Exception):
    """A request refused before it is served: an HTTP status and a JSON ``error`` body.

    Raised by authentication here and by the WebSocket admission checks; the
    app and the WebSocket denial both answer with :meth:`response`.
    """

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        param: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        # Extra response headers, e.g. Retry-After on a 429 or 503.
        self.headers = dict(headers or {})

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
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers or None)


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

    def __init__(
        self,
        api_key: str,
        issuer: SecretIssuer,
        limits: Limits | None = None,
        *,
        secret_used: Callable[[str], None] | None = None,
    ) -> None:
        self._api_key = api_key
        self._issuer = issuer
        self._limits = limits or Limits()
        # Told each use of a client secret: "accepted", or the refusal's code (the
        # /metrics counter of secrets refused at use, beside those refused at mint).
        self._secret_used = secret_used or _ignore

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
                self._secret_used("invalid_client_secret")
                raise Refusal(401, "invalid_client_secret", exc.message) from exc
            return Principal(kind="client_secret", secret=secret, ident=secret.ident)
        return self._api_key_principal(credential)

    async def identify(self, credential: Credential | None) -> Principal:
        """Who presents a resume: the API key, or a secret this server signed.

        Unlike :meth:`authenticate`, a secret past its expiry (or purged from
        the store) still names its holder: it opened the session being resumed
        and a resume opens nothing new. The resume token must match as well.
        """
        if credential is not None and looks_like_secret(credential.value):
            try:
                ident = self._issuer.identify(credential.value)
            except SecretRejected as exc:
                self._secret_used("invalid_client_secret")
                raise Refusal(401, "invalid_client_secret", exc.message) from exc
            return Principal(kind="client_secret", ident=ident)
        if credential is None:
            return await self.authenticate(None)  # the usual 401, with its advice
        return self._api_key_principal(credential)

    async def admit_session(self, principal: Principal, *models: str | None) -> None:
        """Let ``principal`` open one more session for ``models`` (those the request names).

        The API key opens anything. A secret opens only its own model
        (403 ``model_mismatch``) and at most ``limits.sessions_per_secret``
        sessions (403 ``secret_already_used``); the session is counted here.
        """
        secret = principal.secret
        if secret is None:
            return
        bound = secret.session.get("model")
        for model in models:
            if bound is not None and model and model != bound:
                self._secret_used("model_mismatch")
                raise Refusal(
                    403,
                    "model_mismatch",
                    f"This client secret was minted for model '{bound}', not the requested "
                    f"{quoted(model, self._limits.quoted_chars)}: open the session with "
                    f"?model={bound} (or no model), or mint a secret for the model you want.",
                    "model",
                )
        opened = await self._issuer.open_session(secret.value)
        allowed = self._limits.sessions_per_secret
        if opened > allowed:
            self._secret_used("secret_already_used")
            raise Refusal(
                403,
                "secret_already_used",
                f"This client secret has already opened {allowed} session(s), as many as one "
                "secret may (limits.sessions_per_secret): mint a new secret for each session.",
            )
        self._secret_used("accepted")

    def _api_key_principal(self, credential: Credential) -> Principal:
        if hmac.compare_digest(credential.value.encode(), self._api_key.encode()):
            return Principal(kind="api_key")
        raise Refusal(
            401,
            "invalid_api_key",
            "Incorrect API key: it is neither this server's API key nor a client secret "
            "(ek_...). Check the key the server printed at start (or --api-key).",
        )


def _ignore(result: str) -> None:
    """No one counts secret uses (an Authenticator built without ``secret_used``)."""
