"""Property: importing a random sequence of acts and entering it act by act as a clerk give
the same people, the same numbers and the same report.

Births come first (as a migration's file would have them), then later acts in any order and
of any kind, naming people by UUID, current number or cancelled number, refusals included.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from application.register import CivilRegister
from tests.conftest import FixedClock
from tests.two_paths import (
    Ref,
    act,
    as_clerk,
    as_import,
    birth,
    compare_outcomes,
    ledger,
    people,
    report,
)

LABELS = [f"KS-{n}" for n in range(6)]
NAMES = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường"]
DATES = ["1950-01-01", "1980-06-15", "2001-12-31"]


@st.composite
def births(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for index, label in enumerate(LABELS):
        fields: dict[str, Any] = {
            "name": draw(st.sampled_from(NAMES)),
            "sex": draw(st.sampled_from(["male", "female"])),
            "born": draw(st.sampled_from(DATES)),
            "province": draw(st.sampled_from(["001", "079"])),
            "nationality": draw(st.sampled_from(["vietnamese"] * 4 + ["undetermined"])),
        }
        if index and draw(st.booleans()):
            fields["mother"] = Ref(LABELS[draw(st.integers(0, index - 1))])
        rows.append(birth(label, **fields))
    return rows


def person(draw: st.DrawFn) -> Ref:
    return Ref(
        draw(st.sampled_from(LABELS)), draw(st.sampled_from(["uuid", "number", "cancelled"]))
    )


CHANGES = [
    ("name", "Phạm Văn Đức", "change"),
    ("born", "1981-06-15", "correction"),
    ("sex", "female", "redetermination"),
    ("sex", "male", "correction"),
    ("birth_province", "048", "correction"),
    ("ethnicity", "Tày", "supplement"),
    ("nationality", "vietnamese", "change"),
]


@st.composite
def later_acts(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for n in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["death", "renunciation", "change", "change", "merge"]))
        reference = f"{kind[:2].upper()}-{draw(st.integers(0, 3)) if n % 4 == 0 else n}"
        on = draw(st.sampled_from(["2005-05-05", "2020-02-02", "2026-05-31"]))
        if kind == "death":
            rows.append(act("death", reference, person=person(draw), died_on=on))
        elif kind == "renunciation":
            rows.append(act("renunciation", reference, person=person(draw), effective=on))
        elif kind == "change":
            field, value, change_kind = draw(st.sampled_from(CHANGES))
            rows.append(
                act("change", reference, person=person(draw), field=field, value=value,
                    change_kind=change_kind, effective=on)
            )  # fmt: skip
        else:
            rows.append(act("merge", reference, person=person(draw), into=person(draw)))
    return rows


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(first=births(), then=later_acts(), batch_size=st.sampled_from([1, 3, 500]))
def test_importing_and_entering_as_a_clerk_give_the_same_register(
    first: list[dict[str, Any]], then: list[dict[str, Any]], batch_size: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        clerk_url = f"sqlite:///{Path(folder) / 'clerk.sqlite'}"
        import_url = f"sqlite:///{Path(folder) / 'import.sqlite'}"
        clerk = CivilRegister(clerk_url, clock=FixedClock())
        imported = CivilRegister(import_url, clock=FixedClock())
        try:
            for rows in (first, then):
                outcomes = as_clerk(clerk, rows)
                compare_outcomes(outcomes, as_import(imported, rows, batch_size))
                for outcome in outcomes:
                    event(f"{rows[0]['kind'] if rows is first else 'later'}: {outcome[:2]}")
            assert people(imported, LABELS) == people(clerk, LABELS)
            assert ledger(imported) == ledger(clerk)
        finally:
            clerk.close()
            imported.close()
        assert report(import_url) == report(clerk_url)
