"""Properties: for any history of acts, a rebuild equals batch-by-batch catch-up (whatever the
batch sizes), and the statistics equal counts recomputed from the people model."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.register import CivilRegister
from domain.errors import CivledgerError
from domain.events import NationalityDetermined, RecordChanged
from domain.values import SystemClock, today_of
from projections.engine import all_projections
from projections.people import PEOPLE, person_document
from projections.queries import ReadModels
from projections.tables import TRACKING_TABLE
from projections.views import ViewDatabase
from tests.conftest import FixedClock
from tests.projections.card_helpers import recount as recount_cards
from tests.projections.card_helpers import replayed
from tests.projections.conftest import Clerk, engine_for
from tests.projections.residence_helpers import recount

NAMES = ["Nguyễn Văn An", "Đỗ Thị Bình", "Trần Minh Châu", "nguyen van an"]
PROVINCES = ["001", "079", "048"]

births = st.tuples(
    st.just("birth"),
    st.sampled_from(NAMES),
    st.dates(date(1950, 1, 1), date(2020, 12, 31)).map(date.isoformat),
    st.sampled_from(PROVINCES),
    st.sampled_from(["vietnamese", "vietnamese", "undetermined"]),
)
on_someone = st.tuples(
    st.sampled_from(["death", "renounce", "rename", "reborn", "determine", "merge"]),
    st.integers(0, 20),
    st.integers(0, 20),
)
catch_ups = st.tuples(st.just("catch_up"), st.integers(0, 0), st.integers(0, 0))
acts = st.lists(st.one_of(births, births, on_someone, catch_ups), min_size=1, max_size=14)


def _apply(clerk: Clerk, people: list[str], act: tuple[Any, ...]) -> None:
    kind = act[0]
    if kind == "birth":
        _, name, born, province, nationality = act
        people.append(clerk.birth(name, born, province, nationality=nationality))
        return
    if not people:
        return
    who = people[act[1] % len(people)]
    if kind == "death":
        clerk.death(who, "2025-01-01")
    elif kind == "renounce":
        clerk.renounce(who, "2025-02-01")
    elif kind == "rename":
        clerk.change(who, "name", f"Lê Văn {act[2]}", kind="change")
    elif kind == "reborn":
        people[act[1] % len(people)] = clerk.change(who, "born", f"{1960 + act[2]}-06-15")
    elif kind == "determine":
        people[act[1] % len(people)] = clerk.change(
            who, "nationality", "vietnamese", kind="redetermination"
        )
    elif kind == "merge":
        clerk.merge(who, people[act[2] % len(people)])


def _recount(engine: Any, register: CivilRegister) -> dict[str, Any]:
    """The report's counts, recomputed from the people model (and, for changes, the log)."""
    rows = [
        dict(zip(PEOPLE.columns, r, strict=True))
        for r in engine.views.query(f"SELECT * FROM {PEOPLE.physical()}", ())
    ]
    status = Counter(r["status"] for r in rows)
    active = [r for r in rows if r["status"] == "active" and r["id_number"]]
    changes: Counter[str] = Counter()
    for n in register.recorder.select_notifications(start=1, limit=100_000):
        if n.topic in (RecordChanged.TOPIC, NationalityDetermined.TOPIC):
            changes[json.loads(n.state)["kind"]] += 1
    return {
        "people": len(rows),
        "active_id_numbers": len(active),
        "cancelled_id_numbers": sum(len(json.loads(r["cancelled_id_numbers"])) for r in rows),
        "deceased": status["deceased"],
        "renounced": status["renounced"],
        "merged_duplicates": status["merged"],
        "without_id_number": sum(
            1 for r in rows if r["id_number"] is None and r["status"] == "active"
        ),
        "record_changes": dict(sorted(changes.items())),
        "births_since": sum(1 for r in rows if r["registered_on"] >= "1990-01-01"),
        "by_province": dict(sorted(Counter(r["id_number"][:3] for r in active).items())),
        **recount(register, today_of(SystemClock())),
        "cards": recount_cards(
            replayed(register, [r["person_id"] for r in rows]), today_of(SystemClock())
        ),
    }


def _check(acts: list[tuple[Any, ...]], batch: int, rebuild_batch: int, views: str | None) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = f"sqlite:///{Path(directory) / 'ledger.sqlite'}"
        register = CivilRegister(store, clock=FixedClock())
        clerk = Clerk(register)
        engine = engine_for(register, views=views, batch_size=batch)
        people: list[str] = []
        for act in acts:
            if act[0] == "catch_up":
                engine.catch_up()
                continue
            with contextlib.suppress(CivledgerError):  # a refused act records nothing
                _apply(clerk, people, act)
        engine.catch_up()
        incremental = engine.digest()

        rebuilt = engine_for(
            register,
            views=f"sqlite:///{Path(directory) / 'views.sqlite'}",
            batch_size=rebuild_batch,
        )
        rebuilt.rebuild()
        assert rebuilt.digest() == incremental

        for row in engine.views.query(f"SELECT * FROM {PEOPLE.physical()}", ()):
            document = person_document(dict(zip(PEOPLE.columns, row, strict=True)))
            assert document == register.person(UUID(document["person_id"])).as_document()
        report = ReadModels(engine.views).report(since=date(1990, 1, 1))
        assert report == _recount(engine, register)
        rebuilt.views.close()
        engine.views.close()
        register.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(acts=acts, batch=st.integers(1, 6), rebuild_batch=st.integers(1, 50))
def test_rebuild_equals_incremental_catch_up_and_statistics_recount(
    acts: list[tuple[Any, ...]], batch: int, rebuild_batch: int
) -> None:
    _check(acts, batch, rebuild_batch, views=None)


@pytest.mark.postgres
def test_on_postgres_too_and_equal_to_a_sqlite_rebuild(postgres_url: str) -> None:
    """Incremental models on PostgreSQL equal a rebuild on SQLite, digest for digest."""

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )
    @given(acts=acts, batch=st.integers(1, 6), rebuild_batch=st.integers(1, 50))
    def check(acts: list[tuple[Any, ...]], batch: int, rebuild_batch: int) -> None:
        views = ViewDatabase.open(postgres_url)  # a clean slate for every example
        views.execute_script(
            [f"DROP TABLE IF EXISTS {t.physical()}" for p in all_projections() for t in p.tables]
            + [f"DELETE FROM {TRACKING_TABLE}"]
        )
        views.close()
        _check(acts, batch, rebuild_batch, views=postgres_url)

    check()
