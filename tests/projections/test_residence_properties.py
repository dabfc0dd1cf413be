"""Properties of the residence counts: for any sequence of residence, household, cleaning and
civil acts, the report's new keys equal the counts recomputed from the register's aggregates,
a rebuild equals batch-by-batch catch-up, and every `people` row is its person's document."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.register import CivilRegister
from domain.errors import CivledgerError
from domain.events import HOUSEHOLD_EVENTS, PERSON_EVENTS
from domain.values import SystemClock, today_of
from projections.people import PEOPLE, PeopleProjection, person_document
from projections.queries import ReadModels
from projections.statistics import RESIDENCE_REPORT_KEYS, StatisticsProjection
from tests.projections.conftest import engine_for
from tests.projections.residence_helpers import (
    ResidenceClerk,
    clock_on,
    household,
    recount,
    tiny_communes,
)

TODAY = today_of(SystemClock())
NEW_KEYS = RESIDENCE_REPORT_KEYS

#: Kinds of acts, repeated by how often they are drawn.
KINDS = (
    *["birth"] * 5,
    *["household"] * 2,
    *["join"] * 3,
    "end_permanent",
    *["temporary"] * 2,
    "extend",
    "end_temporary",
    "abode",
    "change_head",
    "split",
    *["confirm"] * 2,
    "propose",
    "withdraw",
    "death",
    "renounce",
    "merge",
    "determine",
    "catch_up",
)
NATIONALITIES = ("vietnamese", "undetermined", "vietnamese", "stateless")
acts = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 20), st.integers(0, 20)),
    min_size=10,
    max_size=40,
)


def days(n: int) -> date:
    return TODAY + timedelta(days=n)


def _birth(clerk: ResidenceClerk, people: list[str], parent: int, age: int) -> None:
    nationality = NATIONALITIES[(parent + age) % len(NATIONALITIES)]
    born = days(-365 * (1 + 3 * age) - 40)  # from children to people of 60
    name = f"Người {len(people)}"
    if people and parent % 2:
        mother = people[parent % len(people)]
        with contextlib.suppress(CivledgerError):  # not a plausible mother: no parent then
            people.append(
                clerk.born(name, born, nationality=nationality, sex="female", mother=mother)
            )
            return
    people.append(clerk.born(name, born, nationality=nationality))


def _in_household(clerk: ResidenceClerk, homes: list[str], kind: str, a: int, b: int) -> None:
    """A change of head or a split, naming a member of the household who is not its head."""
    home = homes[b % len(homes)]
    found = household(clerk.register, home)
    members = sorted(str(m) for m in found.members if m != found.head_id)
    if not members:
        return
    member = members[a % len(members)]
    if kind == "change_head":
        clerk.change_head(home, member, days(-1))
    else:
        homes.append(clerk.split(home, [member], member, days(-1)))


def _extend(clerk: ResidenceClerk, people: list[str], a: int, b: int) -> None:
    holders = [p for p in people if clerk.register.person(p).current_temporary(days(-3))]
    if holders:
        clerk.extend(holders[a % len(holders)], until=days(10 * b + 1), on=days(-3))


#: Acts on one person `who` (`b` varies the dates and picks a second person or household).
ON_SOMEONE: dict[str, Callable[[ResidenceClerk, str, int], object]] = {
    "end_permanent": lambda clerk, who, b: clerk.end(
        who, "permanent", "absent", days(-10 + b // 4)
    ),
    # Some temporary residences lapse before today, some last beyond it.
    "temporary": lambda clerk, who, b: clerk.temporary(
        who, days(-300 + b), until=days(-25 + 5 * b)
    ),
    "end_temporary": lambda clerk, who, b: clerk.end(who, "temporary", "lodging_ended", days(-2)),
    "abode": lambda clerk, who, b: clerk.abode(who, days(-1)),
    "confirm": lambda clerk, who, b: clerk.confirm(who),
    "propose": lambda clerk, who, b: clerk.propose_deletion(who),
    "withdraw": lambda clerk, who, b: clerk.withdraw_proposal(who),
    "death": lambda clerk, who, b: clerk.death(who, days(-b // 5).isoformat()),
    "renounce": lambda clerk, who, b: clerk.renounce(who, days(-1).isoformat()),
}


def _apply(clerk: ResidenceClerk, people: list[str], homes: list[str], act: Any) -> None:
    kind, a, b = act
    if kind == "birth":
        _birth(clerk, people, a, b)
        return
    if not people:
        return
    who = people[a % len(people)]
    if kind in ON_SOMEONE:
        ON_SOMEONE[kind](clerk, who, b)
    elif kind == "extend":
        _extend(clerk, people, a, b)
    elif kind == "household":
        homes.append(clerk.new_household(who, days(-30 + b)))
    elif kind in ("join", "change_head", "split") and homes:
        if kind == "join":
            clerk.join(who, homes[b % len(homes)], "child", days(-20 + b))
        else:
            _in_household(clerk, homes, kind, a, b)
    elif kind == "merge":
        clerk.merge(who, people[b % len(people)])
    elif kind == "determine":
        people[a % len(people)] = clerk.change(
            who, "nationality", "vietnamese", kind="redetermination"
        )


def _prelude(clerk: ResidenceClerk) -> tuple[list[str], list[str]]:
    """Four people and two households for the random acts to work on."""
    mother = clerk.born("Mẹ", days(-40 * 365), sex="female")
    father = clerk.born("Cha", days(-45 * 365))
    child = clerk.born("Con", days(-8 * 365), nationality="undetermined", mother=mother)
    stateless = clerk.born("Khách", days(-30 * 365), nationality="stateless")
    homes = [clerk.new_household(mother, days(-100)), clerk.new_household(father, days(-90))]
    return [mother, father, child, stateless], homes


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(acts=acts, batch=st.integers(1, 7))
def test_residence_counts_equal_a_recount_and_a_rebuild_equals_catching_up(
    acts: list[Any], batch: int
) -> None:
    with tempfile.TemporaryDirectory() as directory, tiny_communes():
        store = f"sqlite:///{Path(directory) / 'ledger.sqlite'}"
        register = CivilRegister(store, clock=clock_on(TODAY))
        clerk = ResidenceClerk(register)
        engine = engine_for(register, batch_size=batch)
        people, homes = _prelude(clerk)
        for act in acts:
            if act[0] == "catch_up":
                engine.catch_up()
                continue
            with contextlib.suppress(CivledgerError):  # a refused act records nothing
                _apply(clerk, people, homes, act)
        engine.catch_up()
        report = ReadModels(engine.views).report(on=TODAY)
        assert {key: report[key] for key in NEW_KEYS} == recount(register, TODAY)

        rebuilt = engine_for(register, views=f"sqlite:///{Path(directory) / 'views.sqlite'}")
        rebuilt.rebuild()
        assert rebuilt.digest() == engine.digest()

        for row in engine.views.query(f"SELECT * FROM {PEOPLE.physical()}", ()):
            document = person_document(dict(zip(PEOPLE.columns, row, strict=True)))
            assert document == register.person(UUID(document["person_id"])).as_document()
        rebuilt.views.close()
        engine.views.close()
        register.close()


def test_people_follow_every_person_event_and_statistics_every_household_event() -> None:
    assert set(PERSON_EVENTS) <= PeopleProjection.handled()
    assert set(HOUSEHOLD_EVENTS) <= StatisticsProjection.handled()
