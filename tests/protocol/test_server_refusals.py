"""Refusals that name something the client chose quote it escaped and bounded."""

from __future__ import annotations

from rtagents.protocol.server_facts import Facts, Request
from rtagents.protocol.server_refusals import (
    conversation_unknown,
    duplicate_id,
    missing,
    model_changed,
    nothing_to_cancel,
    voice_fixed,
)

HOSTILE = "x\n05:00:00.000 CRITICAL forged" + "y" * 1_000_000


def _bounded(message: str) -> None:
    assert "\n" not in message and len(message) < 600
    assert f"({len(HOSTILE)} chars)" in message and "'x\\n05:00:00.000 CRITICAL forged" in message


def test_item_and_response_ids_are_quoted_bounded() -> None:
    _bounded(missing(HOSTILE, "item_id").message)
    facts = Facts(items={HOSTILE}, responses=frozenset({"resp_1"}))
    refusal = duplicate_id(facts, Request("conversation.item.create", new_item_id=HOSTILE))
    assert refusal is not None
    _bounded(refusal.message)
    refusal = nothing_to_cancel(facts, Request("response.cancel", response_id=HOSTILE))
    assert refusal is not None
    _bounded(refusal.message)


def test_a_conversation_value_is_quoted_bounded() -> None:
    refusal = conversation_unknown(Facts(), Request("response.create", conversation=HOSTILE))
    assert refusal is not None
    _bounded(refusal.message)


def test_the_model_and_voice_the_client_chose_are_quoted_bounded() -> None:
    update = Request("session.update", session={"model": "other"})
    refusal = model_changed(Facts(model=HOSTILE), update)
    assert refusal is not None
    _bounded(refusal.message)
    voice = Request("session.update", session={"audio": {"output": {"voice": "marin"}}})
    refusal = voice_fixed(Facts(voice=HOSTILE, audio_produced=True), voice)
    assert refusal is not None
    _bounded(refusal.message)


def test_ordinary_names_read_as_before() -> None:
    assert missing("item_1", "item_id").message == (
        "Item 'item_1' does not exist in the conversation."
    )
