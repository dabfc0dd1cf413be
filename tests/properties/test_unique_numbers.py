"""Property: no two people ever hold one number, even when every draw is likely to clash.

The register draws six random digits per number, so in a test two draws almost never meet and
the code that keeps numbers unique is never exercised. Here the draws are narrowed to a
handful of serials, so most draws hit a number already claimed (by a clerk's act or by a
batch of an import), and buckets fill up. Whatever the acts, every number in the log was
assigned to one person only, once, and the numbers held now are distinct.
"""

from __future__ import annotations

import contextlib
import json
import random
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock
from uuid import UUID

from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from application.register import CivilRegister
from domain.commands import ChangeRecord, Clerking, MergeDuplicate, RegisterBirth
from domain.errors import InvalidInput, RuleBroken
from domain.events import IdNumberAssigned
from importer.batch import Serials
from importer.pipeline import importer_for
from importer.rows import numbered_lines
from tests.conftest import FixedClock

#: Few serials: with 2 provinces x 2 sexes x 2 years, a bucket holds at most this many people.
SERIALS = 4
OFFICE = "UBND phường 1, Hà Nội"

births = st.tuples(
    st.just("birth"),
    st.sampled_from(["001", "079"]),
    st.sampled_from(["male", "female"]),
    st.sampled_from(["1990", "2001"]),
)
acts = st.lists(
    st.one_of(
        births,
        births,  # twice as likely as the others: buckets fill up
        st.tuples(
            st.just("change"),
            st.integers(0, 40),
            st.sampled_from(
                [
                    ("sex", "female", "redetermination"),
                    ("sex", "male", "correction"),
                    ("born", "2001-05-05", "correction"),
                    ("born", "1990-05-05", "correction"),
                    ("birth_province", "079", "correction"),
                    ("birth_province", "001", "correction"),
                ]
            ),
        ),
        st.tuples(st.just("merge"), st.integers(0, 40), st.integers(0, 40)),
    ),
    min_size=10,
    max_size=60,
)


@contextlib.contextmanager
def narrow_draws(seed: int) -> Iterator[list[int]]:
    """Every serial the register or an import draws is one of `SERIALS` values; yields the
    list of serials drawn."""
    rng = random.Random(seed)
    drawn: list[int] = []

    def draw(*_: object) -> int:
        drawn.append(rng.randrange(SERIALS))
        return drawn[-1]

    with (
        mock.patch("secrets.randbelow", draw),  # the clerk's path (`registry.draw_number`)
        mock.patch.object(Serials, "draw", draw),
    ):
        yield drawn


def assert_numbers_unique(register: CivilRegister) -> int:
    """Every number assigned in the log went to one person, once; current ones are distinct.
    Returns how many numbers were assigned."""
    holders: dict[str, list[UUID]] = defaultdict(list)
    for notification in register.recorder.select_notifications(start=None, limit=10**6):
        event = register.mapper.to_domain_event(notification)
        if isinstance(event, IdNumberAssigned):
            holders[event.id_number].append(event.originator_id)
    twice = {number: ids for number, ids in holders.items() if len(ids) > 1}
    assert not twice, f"numbers assigned more than once: {twice}"
    people = {person_id for ids in holders.values() for person_id in ids}
    held = [register.person(person_id).id_number for person_id in people]
    current = [number for number in held if number]
    assert len(current) == len(set(current))
    return len(holders)


def birth_fields(province: str, sex: str, year: str, n: int) -> dict[str, Any]:
    return {
        "name": f"Nguyễn Văn {n}",
        "sex": sex,
        "born": f"{year}-03-0{1 + n % 9}",
        "province": province,
        "registered_on": f"{year}-04-01",
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chosen=acts, seed=st.integers(0, 2**32 - 1))
def test_clerks_acts_never_give_one_number_to_two_people(
    chosen: list[tuple[Any, ...]], seed: int
) -> None:
    with tempfile.TemporaryDirectory() as workdir, narrow_draws(seed) as drawn:
        register = CivilRegister(
            f"sqlite:///{Path(workdir) / 'clerks.sqlite'}",
            clock=FixedClock(datetime(2026, 6, 1, 9, tzinfo=UTC)),
        )
        people: list[str] = []
        refused = 0
        for n, act in enumerate(chosen):
            clerking = Clerking.parse(clerk="Lan", office=OFFICE, reference=f"R-{n}")
            try:
                if act[0] == "birth":
                    command = RegisterBirth.parse(**birth_fields(act[1], act[2], act[3], n))
                    people.append(str(register.register_birth(command, clerking).person.id))
                elif people and act[0] == "change":
                    field, value, kind = act[2]
                    register.change_record(
                        ChangeRecord.parse(
                            person=people[act[1] % len(people)], field=field, value=value,
                            kind=kind, effective="2026-05-01",
                        ),
                        clerking,
                    )  # fmt: skip
                elif people and act[0] == "merge":
                    register.merge_duplicate(
                        MergeDuplicate.parse(
                            person=people[act[1] % len(people)], into=people[act[2] % len(people)]
                        ),
                        clerking,
                    )
            except (RuleBroken, InvalidInput):
                refused += 1  # a full bucket, a merge the policy refuses, a no-op change
        assigned = assert_numbers_unique(register)
        register.close()
    target(float(len(drawn) - assigned), label="draws that clashed")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chosen=acts,
    seed=st.integers(0, 2**32 - 1),
    batch=st.integers(1, 12),
    workers=st.sampled_from([0, 1]),
)
def test_an_import_never_gives_one_number_to_two_people(
    chosen: list[tuple[Any, ...]], seed: int, batch: int, workers: int
) -> None:
    rows: list[str] = []
    births: list[dict[str, str]] = []
    for n, act in enumerate(chosen):
        clerking = {"clerk": "Lan", "office": OFFICE, "reference": f"R-{n}"}
        if act[0] == "birth":
            rows.append(
                json.dumps({"kind": "birth", **clerking, **birth_fields(act[1], act[2], act[3], n)})
            )
            births.append({"office": OFFICE, "reference": f"R-{n}"})
        elif births and act[0] == "change":
            field, value, kind = act[2]
            rows.append(
                json.dumps(
                    {"kind": "change", **clerking, "person": births[act[1] % len(births)],
                     "field": field, "value": value, "change_kind": kind,
                     "effective": "2026-05-01"}
                )
            )  # fmt: skip
        elif births and act[0] == "merge":
            rows.append(
                json.dumps(
                    {"kind": "merge", **clerking, "person": births[act[1] % len(births)],
                     "into": births[act[2] % len(births)]}
                )
            )  # fmt: skip
    with tempfile.TemporaryDirectory() as workdir, narrow_draws(seed) as drawn:
        register = CivilRegister(
            f"sqlite:///{Path(workdir) / 'import.sqlite'}",
            clock=FixedClock(datetime(2026, 6, 1, 9, tzinfo=UTC)),
        )
        tally = importer_for(register, batch, workers).run(
            numbered_lines(row.encode() for row in rows), lambda rejected: None
        )
        assert tally.rows == tally.recorded + tally.already_recorded + tally.rejected
        assigned = assert_numbers_unique(register)
        register.close()
    target(float(len(drawn) - assigned), label="draws that clashed")
