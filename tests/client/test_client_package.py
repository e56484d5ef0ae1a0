"""``import rtagents`` is cheap, and every public name still resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rtagents
from rtagents.client.credentials import client_secrets_url

HEAVY = ("openai", "pydantic", "websockets", "httpx", "numpy")


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    probe = f"import rtagents, sys; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve_lazily() -> None:
    for name in rtagents.__all__:
        assert getattr(rtagents, name) is not None, name
    assert rtagents.errors.RealtimeError is rtagents.RealtimeError
    assert rtagents.Category.TOOL == "tool"
    assert isinstance(rtagents.__version__, str)
    assert "connect" in dir(rtagents)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        rtagents.nope  # noqa: B018


@pytest.mark.parametrize(
    "base",
    [
        "https://api.openai.com",
        "https://api.openai.com/",
        "https://api.openai.com/v1",
        "https://api.openai.com/v1/realtime/client_secrets",
    ],
)
def test_client_secrets_url(base: str) -> None:
    assert client_secrets_url(base) == "https://api.openai.com/v1/realtime/client_secrets"
