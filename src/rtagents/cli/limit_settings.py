"""``rtagents serve`` settings for the server's limits table, one per :class:`Limits` field.

The settings are generated from :class:`~rtagents.server.host.limits.Limits`
itself, so a new limit is one line in that table and becomes a flag
(``--limit-input-buffer-bytes``), a variable (``RTAGENTS_LIMIT_INPUT_BUFFER_BYTES``)
and a config file key (``limit_input_buffer_bytes``) with nobody keeping a
second list; ``--help`` shows the comment written above the limit's field.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pydantic import Field, create_model
from pydantic_settings import BaseSettings

from ..server.host import limits as limits_module
from ..server.host.limits import Limits
from .field_comments import field_comments

PREFIX = "limit_"


def limit_comments() -> dict[str, str]:
    """Each limit's comment in limits.py (the lines just above its field), as one line."""
    return field_comments(limits_module, Limits.__name__)


def _limit_fields() -> dict[str, Any]:
    comments = limit_comments()
    fields: dict[str, Any] = {}
    for limit in dataclasses.fields(Limits):
        default = limit.default
        about = comments.get(limit.name) or f"the server's {limit.name.replace('_', ' ')} limit"
        description = f"limit: {about.rstrip('.')} (docs/server.md#limits)"
        fields[PREFIX + limit.name] = (type(default), Field(default, gt=0, description=description))
    return fields


if TYPE_CHECKING:
    # For the type checker the generated fields are plain settings; read them
    # with limits_from(), which knows their names.
    LimitSettings = BaseSettings
else:
    LimitSettings = create_model("LimitSettings", __base__=BaseSettings, **_limit_fields())


def limit_metavar(name: str) -> str:
    """The flag's placeholder: what the number counts."""
    if name.endswith("_bytes"):
        return "BYTES"
    return "SECONDS" if name.endswith("_s") else "N"


def limits_from(settings: BaseSettings) -> Limits:
    """The :class:`Limits` a settings object (a :class:`LimitSettings`) names."""
    values = {
        limit.name: getattr(settings, PREFIX + limit.name) for limit in dataclasses.fields(Limits)
    }
    return Limits(**values)
