"""Maps pydantic events to the library's stored events and back.

The stored state is the event's JSON without the originator id and version (the store keeps
those in their own columns). Dates are ISO strings, datetimes ISO 8601 with their offset.
An event class above version 1 stores `class_version`; older states are upcast on the way in.
"""

from __future__ import annotations

import json
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
)

from domain.events import EVENTS_BY_TOPIC, RegisterEvent
from infrastructure.errors import EventsUnreadable

_OUTSIDE_STATE = {"originator_id", "originator_version"}


def encode_state(event: RegisterEvent) -> bytes:
    """The canonical JSON bytes of an event's state, as stored (before any cipher): compact,
    UTF-8, fields in the order the event class declares them (the envelope first), then
    `class_version` above version 1. Serialised by pydantic's own encoder in one call."""
    cls = type(event)
    state = cls.__pydantic_serializer__.to_json(event, exclude=_OUTSIDE_STATE)
    if cls.class_version > 1:  # the envelope is never empty, so the object has a member
        state = b'%s,"class_version":%d}' % (state[:-1], cls.class_version)
    return state


def decode_state(topic: str, originator_id: UUID, version: int, state: bytes) -> RegisterEvent:
    """Rebuild an event from its topic and stored (plain) state, upcasting older versions."""
    return _event_from(topic, originator_id, version, json.loads(state))


def _event_from(
    topic: str, originator_id: UUID, version: int, data: dict[str, Any]
) -> RegisterEvent:
    try:
        cls = EVENTS_BY_TOPIC[topic]
    except KeyError:
        raise MapperDeserialisationError(f"unknown event topic {topic!r}") from None
    from_version = data.pop("class_version", 1)
    while from_version < cls.class_version:
        getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(data)
        from_version += 1
    data["originator_id"] = originator_id
    data["originator_version"] = version
    return cls.model_validate(data)


def decode_stored(
    topic: str,
    originator_id: UUID,
    version: int,
    state: bytes,
    cipher: Cipher | None = None,
    compressor: Compressor | None = None,
) -> RegisterEvent:
    """Rebuild an event from its state as stored: decrypted, decompressed, then decoded.

    A state that cannot be opened (encrypted while this process has no `CIVLEDGER_CIPHER_KEY`,
    encrypted with another key, or damaged) raises `EventsUnreadable`, naming the key."""
    try:
        if cipher:
            state = cipher.decrypt(state)
        if compressor:
            state = compressor.decompress(state)
        data: dict[str, Any] = json.loads(state)
    except Exception as error:  # a cipher, zlib or JSON error: the state was not opened
        raise unreadable(originator_id, version, error, keyed=cipher is not None) from error
    return _event_from(topic, originator_id, version, data)


def unreadable(
    originator_id: UUID, version: int, error: BaseException, *, keyed: bool
) -> EventsUnreadable:
    """The one-line error for a stored event this process cannot open."""
    if keyed:
        why = (
            "cannot be read with this CIVLEDGER_CIPHER_KEY: they were written with another key, "
            "or in clear, or are damaged"
        )
    else:
        why = (
            "cannot be read without CIVLEDGER_CIPHER_KEY: they are encrypted (or damaged); set "
            "the key they were written with"
        )
    return EventsUnreadable(
        f"stored events {why} ({type(error).__name__} at {originator_id} v{version})"
    )


class EventMapper(Mapper[UUID]):
    """The library's Mapper, for pydantic events with stable topics."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        event = cast(RegisterEvent, domain_event)
        state = encode_state(event)
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=type(event).TOPIC,
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        originator_id = stored_event.originator_id
        if not isinstance(originator_id, UUID):
            originator_id = UUID(str(originator_id))
        event = decode_stored(
            stored_event.topic,
            originator_id,
            stored_event.originator_version,
            stored_event.state,
            self.cipher,
            self.compressor,
        )
        return cast(DomainEventProtocol[UUID], event)
