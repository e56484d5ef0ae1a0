"""What the user actually heard, so a barge-in truncates the right amount.

The server produced more audio than the speaker played: on an interruption the
model must forget the unheard part (``conversation.item.truncate``). Two
classic bugs: truncating beyond the audio the client received (the server
rejects it) and truncating an item that has no audio at all (before the first
frame). The app feeds :meth:`PlaybackTracker.played` from its audio output
callback; :meth:`PlaybackTracker.truncate` clamps to the audio received for
the item and sends nothing for an item without audio.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Protocol

from ..protocol.bounded import RecentDict
from ..protocol.errors import LocalProtocolError
from .events import type_of

if TYPE_CHECKING:
    from ..protocol.conversation import Conversation

log = logging.getLogger("rtagents.client.playback")

PLAYED_ITEMS_KEPT = 256
"""Items whose playback position is remembered; older ones count as unplayed."""


class PlaybackSession(Protocol):
    """What the tracker uses of its session (a :class:`~.session.Session`)."""

    @property
    def conversation(self) -> Conversation: ...

    async def truncate_item(
        self, item_id: str, audio_end_ms: int, content_index: int = 0
    ) -> str: ...


class PlaybackTracker:
    """Milliseconds played per assistant audio item (``session.playback``)."""

    def __init__(self, session: PlaybackSession) -> None:
        self.session = session
        # Only recent items are still playing or about to be truncated.
        self._played: RecentDict[str, float] = RecentDict(PLAYED_ITEMS_KEPT)
        self.current_item_id: str | None = None
        """The assistant item whose audio arrived last (what is playing, or about to)."""

    def observe(self, event: object) -> None:
        if type_of(event) == "response.output_audio.delta":
            item_id = getattr(event, "item_id", None)
            if isinstance(item_id, str):
                self.current_item_id = item_id
        elif type_of(event) == "conversation.item.deleted":
            self._played.pop(getattr(event, "item_id", ""), None)

    def played(self, item_id: str, ms: float) -> float:
        """``ms`` more milliseconds of ``item_id`` were played; returns the total heard."""
        if not isinstance(ms, int | float) or isinstance(ms, bool) or ms < 0 or math.isnan(ms):
            raise LocalProtocolError(
                f"played ms must be a number >= 0, got {ms!r}", code="invalid_value", param="ms"
            )
        total = self._played.get(item_id, 0.0) + float(ms)
        self._played[item_id] = total
        return total

    def heard_ms(self, item_id: str) -> int:
        """What the user heard of ``item_id``, never more than the audio received."""
        received = self.session.conversation.audio_ms(item_id)
        return int(min(self._played.get(item_id, 0.0), received))

    async def truncate(
        self, item_id: str | None = None, audio_end_ms: int | None = None
    ) -> str | None:
        """Truncate ``item_id`` (default: the current item) at what was heard.

        ``audio_end_ms`` (default: the tracked playback) is clamped to the audio
        received for the item. Returns the event id, or None when nothing was
        sent because the item has no audio.
        """
        target = item_id or self.current_item_id
        if target is None:
            return None
        received = self.session.conversation.audio_ms(target)
        if received <= 0:
            log.info("not truncating %s: no audio was received for it", target)
            return None
        wanted = self.heard_ms(target) if audio_end_ms is None else audio_end_ms
        clamped = max(0, min(int(wanted), math.floor(received)))
        return await self.session.truncate_item(target, clamped)
