"""``input_image`` parts and the model: sent to one that reads images, refused by one that does not.

An engine says it reads images with ``accepts_images = True`` (the
``--llm-url`` engine: the operator's model decides, and a model that refuses
them answers with an HTTP error, which fails the response as an engine
failure). The embedded SmolLM2 and the scripted engine read text only: a
response whose history holds an image fails with ``image_input_not_supported``
naming the item, instead of answering as if the image were not there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .history import message_images

IMAGES_NOT_SUPPORTED = "image_input_not_supported"


class ImagesNotSupported(Exception):
    """The history holds ``input_image`` parts the engine cannot read."""

    def __init__(self, message: str, item_id: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.item_id = item_id


def check_images(llm: object, items: Sequence[Mapping[str, Any]], engine_name: str) -> None:
    """Raise :class:`ImagesNotSupported` if ``items`` hold images ``llm`` cannot read."""
    if getattr(llm, "accepts_images", False):
        return
    for item in items:
        if item.get("type") == "message" and message_images(item):
            item_id = item.get("id")
            raise ImagesNotSupported(
                f"Item {item_id!r} has input_image content, but this server's model "
                f"({engine_name}) reads text only. Delete the item "
                "(conversation.item.delete), or run the server with --llm-url pointing at "
                "a model that accepts images.",
                str(item_id) if item_id else None,
            )
