"""What every session of one server shares: settings, engines, auth, the roster."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..engines.base import Engines
from .auth import Authenticator
from .config import ServerConfig
from .secrets import SecretIssuer

if TYPE_CHECKING:
    from .session import SessionHost


@dataclass(kw_only=True)
class ServerState:
    """Held on ``app.state.rtagents``; sessions register here while open."""

    config: ServerConfig
    engines: Engines
    issuer: SecretIssuer
    authenticator: Authenticator
    sessions: set[SessionHost] = field(default_factory=set)

    @property
    def vad_available(self) -> bool:
        return self.engines.vad is not None

    async def close_all(self, code: int, reason: str) -> None:
        """Close every open session (server shutdown), waiting until each has ended."""
        for host in list(self.sessions):
            await host.shutdown(code, reason)
            await host.wait_closed()
