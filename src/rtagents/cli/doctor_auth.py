"""The credential of ``doctor connect``: how it is sent, and what a refusal of it means."""

from __future__ import annotations

from ..protocol.errors import Category
from .doctor_steps import StepFailed


def auth_headers(credential: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"} if credential else {}


def auth_failure(status: int, message: str, credential: str | None) -> StepFailed:
    """The refusal of a credential (401/403), with what to do about it."""
    if credential is None:
        fix = "no credential was sent: pass --api-key (or --secret with an ek_ secret)"
    elif status == 401:
        fix = (
            "the server refused this credential: check the API key (rtagents serve's "
            "--api-key / RTAGENTS_API_KEY), or mint a fresh ek_ secret (they expire)"
        )
    else:
        fix = "the credential is valid but not allowed to do this (an ek_ bound to another model?)"
    return StepFailed(message, fix, category=Category.CONNECTION)
