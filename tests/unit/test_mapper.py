"""The stored form of events, and the derived ids the import computes by the thousand."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any, ClassVar

from hypothesis import given
from hypothesis import strategies as st

from domain.events import EVENTS_BY_TOPIC, IdNumberAssigned
from domain.registry import NAMESPACE_ACT, NAMESPACE_CLAIM, NAMESPACE_PERSON, uuid5_of
from infrastructure import mapper
from infrastructure.mapper import decode_state, encode_state
from tests.unit.factories import NOW


class IdNumberAssignedV2(IdNumberAssigned):
    """A later version of an event, as a schema change would add it (not a real event)."""

    TOPIC = "civledger.test.IdNumberAssignedV2"
    class_version: ClassVar[int] = 2

    channel: str

    @staticmethod
    def upcast_v1_v2(data: dict[str, Any]) -> None:
        data["channel"] = "counter"


def assigned(cls: type[IdNumberAssigned] = IdNumberAssigned, **extra: Any) -> IdNumberAssigned:
    return cls(
        originator_id=uuid.UUID(int=7),
        originator_version=2,
        recorded_at=NOW,
        occurred_on=date(2026, 5, 30),
        clerk="Lê Thị Lan",
        office="HN-BADINH",
        reference="KS-2026-0001",
        id_number="001090123456",
        reason="birth_registered",
        **extra,
    )


def test_stored_state_is_compact_utf8_json_in_declared_order_without_the_columns() -> None:
    state = encode_state(assigned())
    assert state.startswith(b'{"recorded_at":"2026-06-01T09:00:00Z","occurred_on":"2026-05-30"')
    assert "Lê Thị Lan".encode() in state  # not \\u-escaped
    assert b" " not in state.replace("Lê Thị Lan".encode(), b"")
    data = json.loads(state)
    assert "originator_id" not in data
    assert "originator_version" not in data
    assert list(data) == [f for f in IdNumberAssigned.model_fields if not f.startswith("orig")]


def test_a_later_class_version_is_stored_and_older_states_are_upcast(monkeypatch: Any) -> None:
    monkeypatch.setitem(EVENTS_BY_TOPIC, IdNumberAssignedV2.TOPIC, IdNumberAssignedV2)
    event = assigned(IdNumberAssignedV2, channel="online")
    state = encode_state(event)
    assert json.loads(state)["class_version"] == 2
    assert decode_state(IdNumberAssignedV2.TOPIC, uuid.UUID(int=7), 2, state) == event
    old = mapper.encode_state(assigned())  # a version-1 state of the same fields
    upcast = decode_state(IdNumberAssignedV2.TOPIC, uuid.UUID(int=7), 2, old)
    assert isinstance(upcast, IdNumberAssignedV2)
    assert upcast.channel == "counter"


def test_encoding_is_deterministic_and_round_trips() -> None:
    event = assigned()
    assert encode_state(event) == encode_state(assigned())
    again = decode_state(IdNumberAssigned.TOPIC, uuid.UUID(int=7), 2, encode_state(event))
    assert again == event


@given(st.text(max_size=300), st.sampled_from([NAMESPACE_ACT, NAMESPACE_CLAIM, NAMESPACE_PERSON]))
def test_derived_ids_are_the_standard_uuid5(name: str, namespace: uuid.UUID) -> None:
    derived = uuid5_of(namespace.bytes, name)
    expected = uuid.uuid5(namespace, name)
    assert derived == expected
    assert str(derived) == str(expected)
    assert hash(derived) == hash(expected)
    assert derived.version == 5
    assert derived.variant == uuid.RFC_4122
