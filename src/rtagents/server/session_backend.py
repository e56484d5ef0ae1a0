"""Which backend answers a new session: the local engines, or the relay's upstream."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .local.pipeline import local_backend
from .local.session_config import SessionConfig

if TYPE_CHECKING:
    from .host.backend import BackendFactory
    from .state import ServerState


def session_backend(state: ServerState, config: SessionConfig) -> BackendFactory:
    """``config`` is the session's initial config (a secret's, the policy's forced fields).

    In relay mode (``ServerConfig.upstream``) a config that differs from the
    defaults is sent upstream first; a default one leaves the upstream's own
    defaults in place (only its model is used).
    """
    if state.config.upstream is None:
        return local_backend(state, config)
    from .relay.relay_backend import relay_backend

    defaults = SessionConfig.initial(config.kind, config.model or state.config.model)
    return relay_backend(state, config, bound=config.data != defaults.data)
