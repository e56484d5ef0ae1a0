"""JSON bytes <-> GA Realtime events, validated in both directions.

The vocabulary is the ``openai`` package's ``openai.types.realtime`` models;
this module only adds what that package lacks for a runtime: one *discriminated*
``TypeAdapter`` per direction (the package's own unions are plain unions that
pydantic would try member by member), ``validate_json`` straight on the wire
bytes, typed pass-through for unknown event types, and field-naming errors.

Decoding never raises: it returns the event, an :class:`UnknownEvent`, or an
:class:`InvalidEvent` that still carries the type, ``event_id`` and parsed
JSON so callers can do their state bookkeeping (a malformed ``response.done``
still ends the response).
"""

from __future__ import annotations

import json
import logging
import typing
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union, cast

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic_core import SchemaValidator, from_json

from .audio_delta_validator import audio_delta_validator
from .beta import BETA_SERVER_EVENT_TYPES
from .decoded import (
    InvalidEvent,
    UnknownEvent,
    describe_failure,
    fields_of,
    peek_fields,
    readable_ids,
    too_deep,
    too_deep_event,
    unknown_event,
)
from .errors import LocalProtocolError, RemoteProtocolError
from .paths import (
    first_error,
    unknown_field_error,
    unknown_field_paths,
)
from .references import stand_in_for_references
from .tuning import tag_nested_unions
from .type_peek import AUDIO_DELTA_ENDS, peek_type

if TYPE_CHECKING:
    from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent

    ServerEvent: TypeAlias = RealtimeServerEvent
    ClientEvent: TypeAlias = RealtimeClientEvent
else:
    ServerEvent = Any
    ClientEvent = Any

# Decoding's results live in decoded.py; they are part of this module's interface.
__all__ = [
    "ClientEvent",
    "Decoded",
    "DecodedClient",
    "InvalidEvent",
    "ServerEvent",
    "Side",
    "UnknownEvent",
    "decode_client_event",
    "decode_server_event",
    "encode_event",
    "known_types",
    "validate_client_event",
    "warm_up",
]

Side = Literal["client", "server"]
log = logging.getLogger("rtagents.protocol.codec")


Decoded: TypeAlias = "ServerEvent | UnknownEvent | InvalidEvent"
DecodedClient: TypeAlias = "ClientEvent | UnknownEvent | InvalidEvent"


def _union_members(union: Any) -> tuple[Any, ...]:
    # The openai aliases are Annotated[Union[...], PropertyInfo(...)].
    inner = typing.get_args(union)[0]
    return typing.get_args(inner)


@cache
def _adapter(side: Side) -> TypeAdapter[Any]:
    """The discriminated adapter for events sent *by* ``side``; built on first use."""
    from openai.types import realtime as rt

    union = rt.RealtimeClientEvent if side == "client" else rt.RealtimeServerEvent
    members = _union_members(union)
    # Built at run time, so no static type form: typed Any for TypeAdapter.
    discriminated: Any = Annotated[Union[members], Field(discriminator="type")]  # noqa: UP007
    return TypeAdapter(discriminated)


@cache
def _server_validator() -> SchemaValidator:
    """The server-event validator with nested unions tagged (see :mod:`.tuning`).

    Only the client's read path uses it: that is where throughput matters
    (audio deltas, ``session.updated`` with many tools). It is a fast path, not
    the judge: whatever it rejects is re-validated by the plain adapter, whose
    verdicts and error locations are the authoritative ones.
    """
    global _FAST_SERVER
    _FAST_SERVER = SchemaValidator(tag_nested_unions(_adapter("server").core_schema))
    return _FAST_SERVER


# Bound after first use so the hot path skips the cache lookup.
_FAST_SERVER: SchemaValidator | None = None
_DELTA: SchemaValidator | None = None


def _delta_validator() -> SchemaValidator:
    global _DELTA
    _DELTA = cast(SchemaValidator, audio_delta_validator())
    return _DELTA


_SERVER_TYPE_NAMES: frozenset[str | bytes | None] = frozenset()


def _server_type_names() -> frozenset[str | bytes | None]:
    """Every server event type as ``str`` and as ``bytes`` (:func:`peek_type` returns either)."""
    global _SERVER_TYPE_NAMES
    server = known_types("server")
    _SERVER_TYPE_NAMES = frozenset(server) | {name.encode() for name in server}
    return _SERVER_TYPE_NAMES


_ALL_TYPES: frozenset[str] = frozenset()  # bound on first use, like _FAST_SERVER


def _all_types() -> frozenset[str]:
    global _ALL_TYPES
    _ALL_TYPES = known_types("client") | known_types("server")
    return _ALL_TYPES


@cache
def known_types(side: Side) -> frozenset[str]:
    """Every GA event type sent by ``side``."""
    from openai.types import realtime as rt

    union = rt.RealtimeClientEvent if side == "client" else rt.RealtimeServerEvent
    names: set[str] = set()
    for model in _union_members(union):
        names.update(typing.get_args(model.model_fields["type"].annotation))
    return frozenset(names)


def _as_bytes(data: bytes | bytearray | memoryview | str) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


def _invalid(
    raw: bytes,
    exc: ValidationError,
    sender: Side,
    peeked: tuple[Mapping[str, Any] | None, str | None, str | None] | None = None,
) -> InvalidEvent | UnknownEvent:
    """Classify bytes that failed validation as sent by ``sender``.

    ``peeked`` is :func:`.decoded.peek_fields`' result when the caller already has it, so the
    bytes are not parsed a second time.
    """
    data, etype, event_id = peeked if peeked is not None else peek_fields(raw)
    if data is None:
        if too_deep(exc):
            return too_deep_event(raw)
        etype, event_id = readable_ids(raw)
    if data is not None and etype is not None and etype not in known_types(sender):
        other: Side = "server" if sender == "client" else "client"
        if etype not in known_types(other):
            # A well-formed event of a type this version does not know. Decided
            # from the type alone so the costly error list is never built.
            return UnknownEvent(type=etype, event_id=event_id, data=data, raw=raw)
        message = f"'{etype}' is a {other} event; a {sender} must not send it."
        err = RemoteProtocolError(message, code="invalid_event", param="type", event_id=event_id)
        return InvalidEvent(type=etype, event_id=event_id, data=data, raw=raw, error=err)
    code, param, message = describe_failure(first_error(exc), data, etype)
    err = RemoteProtocolError(message, code=code, param=param, event_id=event_id)
    return InvalidEvent(type=etype, event_id=event_id, data=data, raw=raw, error=err)


def decode_server_event(data: bytes | bytearray | memoryview | str) -> Decoded:
    """Parse an event received *from a server* (the client's read path).

    The ``type`` is guessed from the frame's text first (:mod:`.type_peek`;
    audio deltas, most of the traffic, by a prefix and a suffix test): a known
    server type goes straight to the tuned validator, on the frame as it came
    (a ``str`` is not re-encoded); anything else is parsed once and dispatched
    on its real ``type``, so an unknown type never costs a validation error or
    a second parse.
    """
    raw = data if type(data) is str or type(data) is bytes else _frame(data)
    heads, tails = AUDIO_DELTA_ENDS[type(raw) is str]
    if raw.startswith(heads) or raw.endswith(tails):
        try:  # most of the traffic: the delta's own validator (audio_delta_validator.py)
            delta: Decoded = (_DELTA or _delta_validator()).validate_json(raw)
            return delta
        except ValidationError:
            pass
    tried_fast = peek_type(raw) in (_SERVER_TYPE_NAMES or _server_type_names())
    if tried_fast:
        try:
            # The fast path is not the judge: whatever it rejects goes on below.
            event: Decoded = (_FAST_SERVER or _server_validator()).validate_json(raw)
            return event
        except ValidationError:
            pass
    # Parsed once from here on. Inline, not in helpers: unknown types can be
    # as frequent as any event. surrogatepass: a str holding a lone surrogate
    # becomes bytes the parser refuses (an InvalidEvent), not an exception.
    wire = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    try:
        parsed = from_json(wire)
    except ValueError:
        parsed = None
    if type(parsed) is dict:
        etype = parsed.get("type")
        if type(etype) is str and etype not in (_ALL_TYPES or _all_types()):
            event_id = parsed.get("event_id")
            unknown = unknown_event(
                etype, event_id if type(event_id) is str else None, parsed, wire
            )
            return _map_beta(unknown) if etype in BETA_SERVER_EVENT_TYPES else unknown
    return _judge(wire, parsed, tried_fast=tried_fast)


def _frame(data: bytes | bytearray | memoryview | str) -> str | bytes:
    """Any accepted input as exactly ``str`` or ``bytes``."""
    return str(data) if isinstance(data, str) else bytes(data)


def _judge(raw: bytes, parsed: Any, *, tried_fast: bool) -> Decoded:
    """A known type, or no type: the validators decide, the plain adapter last."""
    peeked = fields_of(parsed)
    etype = peeked[1]
    if not tried_fast and etype in known_types("server"):
        # A known type the text peek could not see (``type`` mid-object).
        try:
            return cast(Decoded, (_FAST_SERVER or _server_validator()).validate_json(raw))
        except ValidationError:
            pass
    try:
        return cast(Decoded, _adapter("server").validate_json(raw))
    except ValidationError as exc:
        return _invalid(raw, exc, "server", peeked)


def decode_client_event(data: bytes | bytearray | memoryview | str) -> DecodedClient:
    """Parse an event received *from a client* (the server's read path).

    Stricter than the server path: GA servers reject fields they do not know,
    so an unknown field (often a beta leftover) becomes an :class:`InvalidEvent`
    naming it.
    """
    raw = _as_bytes(data)
    try:
        event = cast(ClientEvent, _adapter("client").validate_json(raw))
    except ValidationError as exc:
        return _invalid(raw, exc, "client")
    extras = unknown_field_paths(event)
    if not extras:
        return event
    error = unknown_field_error(extras[0], event_id=event.event_id)
    return InvalidEvent(
        type=event.type, event_id=event.event_id, data=json.loads(raw), raw=raw, error=error
    )


_warned_beta: set[str] = set()


def _map_beta(event: UnknownEvent) -> Decoded:
    """Turn a beta server event into its GA twin, warning once per name."""
    ga_type = BETA_SERVER_EVENT_TYPES[event.type]
    if event.type not in _warned_beta:
        _warned_beta.add(event.type)
        log.warning(
            "beta event name %r mapped to GA %r; the server speaks the retired beta protocol",
            event.type,
            ga_type,
            extra={"event_type": event.type, "outcome": "mapped_beta"},
        )
    data = {**event.data, "type": ga_type}
    try:
        return cast(Decoded, _adapter("server").validate_python(data))
    except ValidationError as exc:
        return _invalid(json.dumps(data).encode(), exc, "server")


def validate_client_event(event: ClientEvent | Mapping[str, Any]) -> ClientEvent:
    """Check an event *we* are about to send; raise :class:`LocalProtocolError`.

    Accepts a model or a plain dict. A bug in the application surfaces here,
    naming the field, instead of as a server ``error`` a round trip later.
    ``item_reference`` entries of ``response.input`` are checked on their own
    (see :mod:`.references`) and left out of the returned model, which cannot
    hold them; send the event itself, not the model.
    """
    if isinstance(event, BaseModel):
        data = event.model_dump(mode="json", exclude_unset=True, by_alias=True)
    else:
        data = dict(event)
    checked, references = stand_in_for_references(data)
    raw = json.dumps(checked).encode()
    decoded = decode_client_event(raw)
    if isinstance(decoded, InvalidEvent):
        err = decoded.error
        raise LocalProtocolError(err.message, code=err.code, param=err.param, event_id=err.event_id)
    if isinstance(decoded, UnknownEvent):
        raise LocalProtocolError(
            f"Unknown client event type {decoded.type!r}; GA client events are: "
            + ", ".join(sorted(known_types("client"))),
            code="invalid_event",
            param="type",
            event_id=decoded.event_id,
        )
    return _without_inputs(decoded, references) if references else decoded


def _without_inputs(event: Any, indices: list[int]) -> Any:
    """``event`` (a ``response.create``) with the stand-ins at ``indices`` dropped."""
    response = event.response
    kept = [item for index, item in enumerate(response.input) if index not in indices]
    return event.model_copy(update={"response": response.model_copy(update={"input": kept})})


def encode_event(event: BaseModel | UnknownEvent | Mapping[str, Any]) -> str:
    """Serialise an event for a text frame, omitting unset optional fields."""
    if isinstance(event, BaseModel):
        return event.model_dump_json(exclude_unset=True, by_alias=True)
    if isinstance(event, UnknownEvent):
        return event.raw.decode()
    return json.dumps(event, separators=(",", ":"))


def warm_up() -> None:
    """Build both adapters now (they are otherwise built on first decode)."""
    _adapter("client")
    _adapter("server")
