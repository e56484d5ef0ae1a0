"""The policy on whole session configs: a secret's, a call's, a session's first one.

A session's config comes from the defaults, a client secret or a call's
``session`` part before any event is sent; the policy screens what the client
set there and lays its forced fields over the result, so the backend starts
from (and ``session.created`` shows) a config the policy holds for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...protocol.errors import RemoteProtocolError
from ..auth import Refusal
from ..host.limits import Limits
from ..local.session_config import SessionConfig, merge_update, validated
from .forcing import forced_update
from .screening import fields_refusal
from .table import Policy


def screened(policy: Policy, fields: Mapping[str, Any], *, quote_chars: int = 200) -> None:
    """Raise the policy's refusal of session ``fields`` a client set (a secret's, a call's)."""
    error = fields_refusal(policy, fields, "session", quote_chars=quote_chars)
    if error is not None:
        raise error


def with_policy(
    policy: Policy, config: SessionConfig, *, vad_available: bool, limits: Limits | None = None
) -> SessionConfig:
    """``config`` with the forced fields laid over it (``config`` itself when none apply).

    Raises :class:`RemoteProtocolError` when the forced fields do not fit this
    config (e.g. forced turn detection on a server without a VAD), naming the
    policy so the operator knows what to fix.
    """
    update = forced_update(policy, config.data)
    if not update:
        return config
    try:
        return validated(
            merge_update(config.data, update), vad_available=vad_available, limits=limits
        )
    except RemoteProtocolError as exc:
        exc.message = f"The gateway policy's forced fields do not fit this session: {exc.message}"
        raise


def admitted_config(
    policy: Policy, config: SessionConfig, *, vad_available: bool, limits: Limits | None = None
) -> SessionConfig:
    """:func:`with_policy` for a session being opened: a misfit is a 400 before the upgrade."""
    try:
        return with_policy(policy, config, vad_available=vad_available, limits=limits)
    except RemoteProtocolError as exc:
        raise Refusal(400, exc.code, exc.message, exc.param) from exc
