"""Property: whatever the sequence of residence, household, civil and cleaning acts, a household
never has two heads, its head is one of its members, a person never holds two permanent
residences, and a person and their household always agree on whether they belong to it."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from application.register import CivilRegister
from domain.errors import CivledgerError
from domain.events import (
    ActRecorded,
    HouseholdEstablished,
    HouseholdHeadChanged,
    HouseholdHeadVacated,
    HouseholdMemberJoined,
    HouseholdMemberLeft,
    RegisterEvent,
    ResidenceEnded,
    ResidenceRegistered,
)
from domain.household import Household
from tests.conftest import FixedClock
from tests.two_paths import Ref, act, as_clerk, birth, communes_known, person_id, resolve_refs

LABELS = [f"KS-{n}" for n in range(5)]
COMMUNES = ["00073", "00004", "26734"]
DATES = ["2025-07-05", "2025-09-01", "2026-01-15", "2026-05-20"]


def households_of(register: CivilRegister) -> list[str]:
    numbers = set()
    for notification in register.recorder.select_notifications(start=None, limit=10**6):
        decoded = register.mapper.to_domain_event(notification)
        if isinstance(decoded, HouseholdEstablished):
            numbers.add(decoded.household)
    return sorted(numbers)


@st.composite
def acts(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 14))):
        kind = draw(
            st.sampled_from(
                ["new", "new", "join", "temporary", "end", "head", "split", "death", "merge"]
            )
        )
        who = Ref(draw(st.sampled_from(LABELS)))
        on = draw(st.sampled_from(DATES))
        commune = draw(st.sampled_from(COMMUNES))
        reference = f"R-{n}"
        if kind == "new":
            rows.append(act("residence", reference, person=who,
                            residence_kind="permanent", commune=commune,
                            address=f"{n} Phố Huế", new_household=True,
                            effective=on))  # fmt: skip
        elif kind == "join":
            rows.append({"join": draw(st.integers(0, 5)), **act(
                "residence", reference, person=who, residence_kind="permanent", commune=commune,
                address="1 Phố Huế", relation=draw(st.sampled_from(["spouse", "child", "other"])),
                effective=on)})  # fmt: skip
        elif kind == "temporary":
            rows.append(act("residence", reference, person=who, residence_kind="temporary",
                            commune=commune, address="2 Ngõ Trạm", until="2026-12-31",
                            effective=on))  # fmt: skip
        elif kind == "end":
            rows.append(act("end_residence", reference, person=who,
                            residence_kind="permanent",
                            ground=draw(st.sampled_from(["absent", "settled_abroad"])),
                            effective=on))  # fmt: skip
        elif kind == "head":
            rows.append({"join": "own", **act(
                "change_head", reference, head=who, effective=on)})  # fmt: skip
        elif kind == "split":
            other = Ref(draw(st.sampled_from(LABELS)))
            movers = [who, other] if draw(st.booleans()) and other != who else [who]
            rows.append({"join": "own", **act(
                "split_household", reference, members=movers, head=movers[-1],
                effective=on)})  # fmt: skip
        elif kind == "death":
            rows.append(act("death", reference, person=who, died_on=on))
        else:
            rows.append(act("merge", reference, person=who,
                            into=Ref(draw(st.sampled_from(LABELS)))))  # fmt: skip
    return rows


def check_consistency(register: CivilRegister) -> None:  # noqa: PLR0912 (one invariant a branch)
    """The invariants, over the log as recorded and over the state now."""
    open_permanent: dict[UUID, int] = defaultdict(int)
    heads: dict[UUID, UUID | None] = {}
    members: dict[UUID, set[UUID]] = defaultdict(set)
    for notification in register.recorder.select_notifications(start=None, limit=10**6):
        e: RegisterEvent = register.mapper.to_domain_event(notification)  # type: ignore[assignment]
        if isinstance(e, ResidenceRegistered) and e.kind == "permanent":
            open_permanent[e.originator_id] += 1
            assert open_permanent[e.originator_id] == 1, "two permanent residences"
        elif isinstance(e, ResidenceEnded) and e.kind == "permanent":
            open_permanent[e.originator_id] -= 1
            assert open_permanent[e.originator_id] == 0
        elif isinstance(e, HouseholdEstablished):
            heads[e.originator_id] = e.head_id
            members[e.originator_id] = {e.head_id}
        elif isinstance(e, HouseholdMemberJoined):
            assert e.person_id not in members[e.originator_id]
            members[e.originator_id].add(e.person_id)
        elif isinstance(e, HouseholdMemberLeft):
            members[e.originator_id].discard(e.person_id)
        elif isinstance(e, HouseholdHeadChanged):
            assert e.head_id in members[e.originator_id], "a head who is not a member"
            heads[e.originator_id] = e.head_id
        elif isinstance(e, HouseholdHeadVacated):
            heads[e.originator_id] = None
        elif isinstance(e, ActRecorded):  # an act's last event: its state must be whole
            for hid, head in heads.items():
                assert head is None or head in members[hid], "a head who left is still head"
    for number in households_of(register):
        household = register.on_store.get(Household, register_household_id(number))
        assert household is not None
        assert list(household.members.values()).count("head") == (household.head_id is not None)
        for member in household.members:
            assert register.person(member).household == number, "a member elsewhere"
    for label in LABELS:
        try:
            person = register.person(person_id(label))
        except CivledgerError:
            continue
        if person.household is not None:
            household = register.on_store.get(Household, register_household_id(person.household))
            assert household is not None
            assert person.id in household.members


@pytest.fixture(scope="module", autouse=True)
def known_communes() -> Iterator[None]:
    with communes_known(*COMMUNES):
        yield


def register_household_id(number: str) -> UUID:
    from domain.registry import household_id

    return household_id(number)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rows=acts())
def test_households_and_residences_stay_consistent(rows: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        register = CivilRegister(f"sqlite:///{Path(folder) / 'r.sqlite'}", clock=FixedClock())
        try:
            births = [
                birth(label, name=f"Người {label}", sex=("male", "female")[i % 2],
                      born=f"19{70 + i}-01-0{i + 1}", province="001")
                for i, label in enumerate(LABELS)
            ]  # fmt: skip
            assert as_clerk(register, births) == [("recorded",)] * len(LABELS)
            for drawn in rows:
                row = dict(drawn)
                pick = row.pop("join", None)
                if pick == "own":  # the household of the person named first
                    first: Ref = row["head"] if row["kind"] == "change_head" else row["members"][0]
                    try:
                        row["household"] = register.person(person_id(first.label)).household
                    except CivledgerError:
                        continue
                    if row["household"] is None:
                        continue
                elif pick is not None:
                    known = households_of(register)
                    if not known:
                        continue
                    row["household"] = known[pick % len(known)]
                outcome = as_clerk(register, [resolve_refs(register, row)])[0]
                event(f"{row['kind']}: {outcome[0]}")
            check_consistency(register)
        finally:
            register.close()
