"""What a fresh session needs to continue where a lost one ended.

Servers without resume (OpenAI's, or ours past its grace window) start every
connection empty. The client keeps two things that let it rebuild the session:
the config the app asked for (every ``session.update`` merged, as the server
would merge them, less any the server refused: see :mod:`.asked`) and the
conversation mirror. Replaying the mirror as
``conversation.item.create`` events with the *same item ids* keeps every id the
app holds valid. Audio cannot be re-sent as the model heard it, so user audio
turns go back as their transcripts (``input_text``) and assistant audio as its
(possibly truncated) transcript (``output_text``). The functions live in
:mod:`rtagents.protocol.item_replay`: the server's relay rebuilds its upstream
sessions with the same ones.
"""

from __future__ import annotations

from ..protocol.item_replay import (
    NO_TRANSCRIPT,
    merge_config,
    replay_config,
    replay_events,
    replay_item,
)

__all__ = ["NO_TRANSCRIPT", "merge_config", "replay_config", "replay_events", "replay_item"]
