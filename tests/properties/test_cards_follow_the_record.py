"""Property: whatever the sequence of card, eid, civil and correction acts, a person never holds
two valid cards at once, and every card matches the record as it was on its issue date.

Both are checked from the event log with no help from the code under test: the cards' spans
come from the `CardIssued` and `CardRevoked` events alone, and the record on a card's issue
date is the person replayed from the events recorded before the card and in effect that day.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from application.register import CivilRegister
from domain.events import (
    CardIssued,
    CardRevoked,
    DeathRegistered,
    ElectronicIdentityLocked,
    ElectronicIdentityUnlocked,
    PersonEvent,
    RegisterEvent,
)
from domain.person import Person
from tests.conftest import FixedClock
from tests.two_paths import Ref, act, as_clerk, birth

LABELS = [f"KS-{n}" for n in range(3)]
#: Sorted, so that most drawn sequences are in date order; some are not, and must be refused.
DATES = ["2019-05-01", "2021-04-01", "2021-06-15", "2023-02-01", "2024-08-30", "2026-05-31"]
BIRTHS = ["1990-03-04", "2005-01-20", "2012-07-07"]
REASONS = ["first", "request", "age", "data_change", "number_reissued", "lost", "damaged"]


@st.composite
def acts(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    dates = sorted(draw(st.lists(st.sampled_from(DATES), min_size=1, max_size=16)))
    for n, on in enumerate(dates):
        who = Ref(draw(st.sampled_from(LABELS)), by="number")
        reference = f"R-{n}"
        kind = draw(
            st.sampled_from(
                ["issue", "issue", "issue", "revoke", "withhold", "return", "eid", "lock",
                 "unlock", "name", "born", "sex", "death", "renounce"]
            )
        )  # fmt: skip
        if kind == "issue":
            reason = draw(st.sampled_from(REASONS))
            rows.append(act("issue_card", reference, person=who, reason=reason, effective=on))
        elif kind == "revoke":
            ground = draw(st.sampled_from(["issued_wrongly", "tampered"]))
            rows.append(act("revoke_card", reference, person=who, ground=ground, effective=on))
        elif kind == "withhold":
            rows.append(act("withhold_card", reference, person=who, ground="custody", effective=on))
        elif kind == "return":
            rows.append(act("return_card", reference, person=who, effective=on))
        elif kind == "eid":
            rows.append(act("create_eid", reference, person=who, effective=on))
        elif kind == "lock":
            ground = draw(st.sampled_from(["request", "authority"]))
            rows.append(act("lock_eid", reference, person=who, ground=ground, effective=on))
        elif kind == "unlock":
            rows.append(act("unlock_eid", reference, person=who, effective=on))
        elif kind in ("name", "born", "sex"):
            value = {"name": f"Tên Mới {n}", "born": "1990-02-02", "sex": "female"}[kind]
            rows.append(act("change", reference, person=who, field=kind, value=value,
                            change_kind="correction", effective=on))  # fmt: skip
        elif kind == "death":
            rows.append(act("death", reference, person=who, died_on=on))
        else:
            rows.append(act("renunciation", reference, person=who, effective=on))
    return rows


def events_of(register: CivilRegister) -> list[RegisterEvent]:
    return [
        register.mapper.to_domain_event(n)  # type: ignore[misc]
        for n in register.recorder.select_notifications(start=None, limit=10**6)
    ]


def check_cards(register: CivilRegister) -> int:
    """The two invariants over the whole log; returns how many cards were issued."""
    history: dict[UUID, list[PersonEvent]] = defaultdict(list)
    spans: dict[UUID, list[list[date | None]]] = defaultdict(list)  # [from, to) per card
    issued = 0
    for e in events_of(register):
        if not isinstance(e, PersonEvent):
            continue
        person_id = e.originator_id
        if isinstance(e, CardIssued):
            issued += 1
            # The record as the register held it when the card was issued, on its issue date.
            seen = [x for x in history[person_id] if x.occurred_on <= e.occurred_on]
            record = Person.replay(person_id, seen)
            assert record is not None
            carried = (e.id_number, e.name, e.born, e.sex)
            assert carried == (record.id_number, record.name, record.born, record.sex), (
                "a card that does not carry the record of its issue date"
            )
            for span in spans[person_id]:
                if span[1] is None or span[1] > e.occurred_on:
                    span[1] = e.occurred_on  # the new card replaces it from its issue date
            end = e.expires_on + timedelta(days=1) if e.expires_on else None
            spans[person_id].append([e.occurred_on, end])
        elif isinstance(e, CardRevoked | DeathRegistered):
            for span in spans[person_id]:
                if span[1] is None or span[1] > e.occurred_on:
                    span[1] = e.occurred_on
        history[person_id].append(e)
    for person_spans in spans.values():
        edges = sorted({edge for span in person_spans for edge in span if edge is not None})
        for day in edges:
            valid = [s for s in person_spans if s[0] <= day and (s[1] is None or day < s[1])]  # type: ignore[operator]
            assert len(valid) <= 1, f"two valid cards on {day}"
    return issued


def check_eid_locks_follow_their_causes(register: CivilRegister) -> None:
    """An eid lock and unlock alternate: never locked twice, never unlocked while active."""
    locked: dict[UUID, bool] = {}
    for e in events_of(register):
        if isinstance(e, ElectronicIdentityLocked):
            assert not locked.get(e.originator_id), "an eid locked twice"
            locked[e.originator_id] = True
        elif isinstance(e, ElectronicIdentityUnlocked):
            assert locked.get(e.originator_id), "an active eid unlocked"
            locked[e.originator_id] = False


@pytest.mark.slow
@settings(
    max_examples=70,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rows=acts())
def test_one_valid_card_at_a_time_and_each_carries_its_record(rows: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        register = CivilRegister(f"sqlite:///{Path(folder) / 'r.sqlite'}", clock=FixedClock())
        try:
            births = [
                birth(label, name=f"Người {label}", sex=("male", "female")[i % 2],
                      born=born, registered_on=born, province="001")
                for i, (label, born) in enumerate(zip(LABELS, BIRTHS, strict=True))
            ]  # fmt: skip
            first = [
                act("issue_card", f"C-{label}", person=Ref(label), reason=reason,
                    effective="2019-05-01")
                for label, reason in zip(LABELS, ("first", "first", "request"), strict=True)
            ]  # fmt: skip
            assert as_clerk(register, births + first) == [("recorded",)] * 2 * len(LABELS)
            for row in rows:
                outcome = as_clerk(register, [row])[0]
                event(f"{row['kind']}: {outcome[0]}")
            issued = check_cards(register) - len(LABELS)
            event(f"cards renewed or re-issued: {min(issued, 3)}+")
            check_eid_locks_follow_their_causes(register)
        finally:
            register.close()
