"""``session.update``: merge, check, answer with the full effective config."""

from __future__ import annotations

from typing import TYPE_CHECKING

from openai.types.realtime import SessionUpdatedEvent, SessionUpdateEvent

from .items import build

if TYPE_CHECKING:
    from .session import SessionHost


async def session_update(host: SessionHost, event: SessionUpdateEvent) -> None:
    update = event.session.model_dump(mode="json", exclude_unset=True, by_alias=True)
    config = host.config.merged(
        update, audio_produced=host.audio_produced, vad_available=host.state.vad_available
    )
    host.config = config
    host.turns.configure()  # a changed turn_detection restarts the detector
    host.conversation.set_output_format(config.output_format)
    await host.emit(
        build(SessionUpdatedEvent, session=config.to_model(host.id, expires_at=host.expires_at))
    )
