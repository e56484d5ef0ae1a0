"""Ephemeral client secrets (``ek_…``): minting, checking, storing.

A secret is ``ek_`` + a random id + its expiry + an HMAC over both, keyed by a
server-held key. The signature lets the server tell a forged or mangled secret
("signature invalid") from a genuine one that expired or that this server
forgot, so each failure gets its own message. The session config bound at
mint time, who minted the secret and how many sessions it opened live in a
:class:`SecretStore`, in memory (``stores/memory_secrets.py``, bounded in
count and bytes) or in Redis when several nodes share secrets
(``stores/redis_secrets.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

PREFIX = "ek_"
_ID_LEN = 24
_EXP_LEN = 10  # hex seconds since the epoch, zero padded
_SIG_LEN = 32  # hex of a 16-byte truncated HMAC-SHA256
_BODY_LEN = _ID_LEN + _EXP_LEN + _SIG_LEN
_ALNUM = string.ascii_letters + string.digits
_HEX = frozenset("0123456789abcdef")

Reason = Literal["malformed", "signature", "expired", "unknown"]


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedSecret:
    """A minted secret, the session config it opens sessions with, and who minted it.

    ``minted_by`` is the principal that asked for it (``api_key``, or
    ``console:<client address>``); ``size`` is what its config costs the store.
    """

    value: str
    created_at: float
    expires_at: int
    session: Mapping[str, Any] = field(default_factory=dict)
    minted_by: str = "api_key"
    size: int = 0

    @property
    def ident(self) -> str:
        """The secret's random id: names it (e.g. as a session's owner) without revealing it."""
        return secret_ident(self.value)


class SecretRejected(Exception):
    """A presented secret cannot open a session; ``reason`` says which check failed."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class StoreFull(Exception):
    """The store holds as many secrets (or config bytes) as it may; ``retry_after_s``: when
    the soonest stored secret expires and frees room."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class SecretStore(Protocol):
    """Where minted secrets live until they expire (memory now, Redis later).

    ``put`` raises :class:`StoreFull` past the store's bounds; ``open_session``
    counts one more session opened with a secret and returns the new count (an
    atomic increment, ``INCR`` in Redis).
    """

    async def put(self, secret: IssuedSecret) -> None: ...

    async def get(self, value: str) -> IssuedSecret | None: ...

    async def open_session(self, value: str) -> int: ...


class MintRate(Protocol):
    """Counts mints per minter: :class:`MintRateLimiter` in memory, or shared in Redis."""

    def take(self, minter: str) -> Awaitable[None] | None: ...


class SecretIssuer:
    """Mints and verifies secrets for one server (or a group sharing ``key``)."""

    def __init__(
        self,
        key: bytes,
        store: SecretStore,
        clock: Callable[[], float],
        *,
        rate: MintRate | None = None,
    ) -> None:
        self._key = key
        self._store = store
        self._clock = clock
        self._rate = rate

    async def take_mint(self, minted_by: str) -> None:
        """Count a mint request of ``minted_by`` against its rate (:class:`RateLimited` past it).

        Called before the request body is read, so a flood costs no parsing.
        """
        if self._rate is not None:
            taken = self._rate.take(minted_by)
            if taken is not None:  # a shared (Redis) rate answers asynchronously
                await taken

    def rekey(self, key: bytes) -> None:
        """Sign with ``key`` from now on: the key every node sharing a store agreed on."""
        self._key = key

    async def mint(
        self, session: Mapping[str, Any], ttl_s: int, *, minted_by: str = "api_key", size: int = 0
    ) -> IssuedSecret:
        """A new secret stored with ``session``; :class:`StoreFull` if there is no room."""
        created = self._clock()
        expires_at = int(created) + ttl_s
        ident = "".join(secrets.choice(_ALNUM) for _ in range(_ID_LEN))
        signed = ident + format(expires_at, f"0{_EXP_LEN}x")
        value = PREFIX + signed + self._sign(signed)
        secret = IssuedSecret(
            value=value,
            created_at=created,
            expires_at=expires_at,
            session=session,
            minted_by=minted_by,
            size=size,
        )
        await self._store.put(secret)
        return secret

    async def open_session(self, value: str) -> int:
        """Count a session opened with ``value`` (verified); the count so far, this one included."""
        return await self._store.open_session(value)

    def identify(self, value: str) -> str:
        """The id of a secret this server signed, expired or forgotten alike.

        Enough to tell who owns a session (a resume presents the secret that
        opened it, possibly after it expired); :class:`SecretRejected` for a
        malformed or forged value.
        """
        signed, signature = _split(value)
        if not hmac.compare_digest(signature, self._sign(signed)):
            raise SecretRejected("signature", "Client secret signature invalid.")
        return signed[:_ID_LEN]

    async def verify(self, value: str) -> IssuedSecret:
        """The stored secret for ``value``, or :class:`SecretRejected` saying why not."""
        signed, signature = _split(value)
        if not hmac.compare_digest(signature, self._sign(signed)):
            raise SecretRejected(
                "signature",
                "Client secret signature invalid: it was not issued by this server or was "
                "altered. Mint a new one with POST /v1/realtime/client_secrets.",
            )
        expires_at = int(signed[_ID_LEN:], 16)
        if self._clock() >= expires_at:
            when = datetime.fromtimestamp(expires_at, UTC).isoformat(timespec="seconds")
            raise SecretRejected("expired", f"Client secret expired at {when}; mint a new one.")
        secret = await self._store.get(value)
        if secret is None:
            raise SecretRejected(
                "unknown",
                "Client secret is not known to this server (it may have been issued by a "
                "server that did not share its store); mint a new one.",
            )
        return secret

    def _sign(self, signed: str) -> str:
        digest = hmac.new(self._key, signed.encode(), hashlib.sha256).hexdigest()
        return digest[:_SIG_LEN]


def secret_ident(value: str) -> str:
    """The random id part of a well-formed secret value."""
    return value[len(PREFIX) : len(PREFIX) + _ID_LEN]


def looks_like_secret(value: str) -> bool:
    """Whether a credential is meant as a client secret (as opposed to an API key)."""
    return value.startswith(PREFIX)


def _split(value: str) -> tuple[str, str]:
    """(signed part, signature) of a well-formed secret; :class:`SecretRejected` otherwise."""
    body = value[len(PREFIX) :] if value.startswith(PREFIX) else None
    if (
        body is None
        or len(body) != _BODY_LEN
        or not all(ch in _ALNUM for ch in body[:_ID_LEN])
        or not _HEX.issuperset(body[_ID_LEN:])
    ):
        raise SecretRejected(
            "malformed",
            f"Client secret malformed: expected {PREFIX} followed by {_BODY_LEN} characters "
            f"(got {len(value)} characters). Pass the 'value' field of the "
            "client_secrets response unchanged.",
        )
    return body[: _ID_LEN + _EXP_LEN], body[_ID_LEN + _EXP_LEN :]
