"""The audio delta's own validator: the codec's shortcut for most of a client's reads.

An audio delta recognised by its text (:data:`.type_peek.AUDIO_DELTA_ENDS`)
goes to its model's validator rather than the discriminated union's: the
union's tag dispatch and the codec's generic steps cost about a quarter of
a 4 KB delta's decode (``bench/codec.py``). The model is the one the union
would pick, so the result is the same; whatever it rejects takes the general
path, which judges it.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def audio_delta_validator() -> Any:
    """``response.output_audio.delta``'s validator (a pydantic-core ``SchemaValidator``)."""
    from openai.types.realtime import ResponseAudioDeltaEvent

    ResponseAudioDeltaEvent.model_rebuild()  # the package defers building its schemas
    return ResponseAudioDeltaEvent.__pydantic_validator__
