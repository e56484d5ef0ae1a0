"""Stores shared by the sessions of a server (client secrets today)."""


class SharedStateUnavailable(RuntimeError):
    """``--redis`` names a Redis this node cannot use (unreachable, or the extra is missing)."""
