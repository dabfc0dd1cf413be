"""Answers from the read models: the statistics report, ID verification, look-ups, duplicates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.residence import ADULT_AGE, age_on
from domain.values import IdNumber, Nationality, PersonRef, SystemClock, fold_name, today_of
from infrastructure.store_url import StoreURL
from projections.card_queries import card_counts
from projections.engine import Engine, pending_rows
from projections.id_registry import ID_NUMBERS
from projections.people import PEOPLE, PeopleProjection, person_document
from projections.source import EventSource
from projections.statistics import (
    COUNTS,
    RESIDENCE_SINGLE,
    SINGLE,
    SPECIAL_CASES,
    STANDING,
    TEMPORARY_UNTIL,
    UNDETERMINED_CHILDREN,
    UNDETERMINED_WITH_PARENTS,
    UNDETERMINED_WITHOUT_PERMANENT,
    WITHOUT_NATIONALITY_RESIDENT,
    parse_parents_key,
)
from projections.tables import Table
from projections.views import SQLITE_CHUNK, Row, ViewDatabase, database_errors

#: Most candidates `find` returns.
FIND_LIMIT = 50


@dataclass
class ReadModels:
    """Queries over the models in one database. Callers catch them up first if they want."""

    views: ViewDatabase

    def _built(self, *tables: Table) -> bool:
        """Whether the models' tables are there: a model never built answers as empty."""
        return all(self.views.has_table(t.physical()) for t in tables)

    def report(self, since: date | None = None, on: date | None = None) -> dict[str, Any]:
        """The statistics in the `report --json` shape, on the report date `on` (default:
        today's civil date in Indochina Time): temporary residents are those whose residence
        has not lapsed by then, and children are under 18 on that day."""
        on = on or today_of(SystemClock())
        rows = []
        if self._built(COUNTS):
            rows = self.views.query(f"SELECT metric, key, value FROM {COUNTS.physical()}", ())
        report: dict[str, Any] = dict.fromkeys(SINGLE, 0)
        residence: dict[str, Any] = dict.fromkeys(RESIDENCE_SINGLE, 0)
        special: dict[str, int] = dict.fromkeys(
            (WITHOUT_NATIONALITY_RESIDENT, UNDETERMINED_WITHOUT_PERMANENT), 0
        )
        record_changes: dict[str, int] = {}
        by_province: dict[str, int] = {}
        births = 0
        temporary = 0
        with_parents: dict[str, int] = {}
        day = on.isoformat()
        for metric, key, value in rows:
            if metric in report:
                report[metric] = int(value)
            elif metric in residence:
                residence[metric] = int(value)
            elif metric == "record_changes":
                record_changes[key] = int(value)
            elif metric == "by_province":
                by_province[key] = int(value)
            elif metric == "births" and since is not None and key >= since.isoformat():
                births += int(value)
            elif metric == TEMPORARY_UNTIL and key >= day:
                temporary += int(value)
            elif metric == SPECIAL_CASES and key in special:
                special[key] = int(value)
            elif metric == UNDETERMINED_WITH_PARENTS:
                with_parents[key] = int(value)
        report["record_changes"] = dict(sorted(record_changes.items()))
        if since is not None:
            report["births_since"] = births
        report["by_province"] = dict(sorted(by_province.items()))
        # Added with residence: after every earlier key, so the earlier document is a prefix.
        report.update(
            households=residence["households"],
            households_without_head=residence["households_without_head"],
            permanent_residents=residence["permanent_residents"],
            temporary_residents=temporary,
            without_permanent_residence=residence["without_permanent_residence"],
            unconfirmed=residence["unconfirmed"],
            proposed_for_deletion=residence["proposed_for_deletion"],
            numbers_in_service=residence["numbers_in_service"],
        )
        special[UNDETERMINED_CHILDREN] = self._children_with_a_vietnamese_parent(with_parents, on)
        report["special_cases"] = special
        # Added with identity cards, after every earlier key.
        report["cards"] = card_counts(self.views, on)
        return report

    def _children_with_a_vietnamese_parent(self, with_parents: dict[str, int], on: date) -> int:
        """Of the living people of undetermined nationality with a recorded parent (counted by
        date of birth and parents), those under 18 on `on` with a parent whose recorded
        nationality is Vietnamese; the parents are looked up by key in the standing table."""
        minors: list[tuple[list[str], int]] = []
        for key, value in with_parents.items():
            born, parents = parse_parents_key(key)
            if age_on(date.fromisoformat(born), on) < ADULT_AGE:
                minors.append((parents, value))
        wanted = sorted({parent for parents, _ in minors for parent in parents})
        vietnamese: set[str] = set()
        for start in range(0, len(wanted), SQLITE_CHUNK):
            chunk = wanted[start : start + SQLITE_CHUNK]
            vietnamese.update(
                str(person_id)
                for (person_id,) in self.views.query(
                    f"SELECT person_id FROM {STANDING.physical()} WHERE nationality = ? "
                    f"AND person_id IN ({', '.join('?' * len(chunk))})",
                    (Nationality.VIETNAMESE.value, *chunk),
                )
            )
        return sum(value for parents, value in minors if vietnamese.intersection(parents))

    def verify(self, ref: PersonRef, name: str, born: date) -> dict[str, Any]:
        """Does the ID number, or the person UUID, belong to a person of this name and date of
        birth, and their status (`cancelled` for a number no longer held)."""
        if not self._built(PEOPLE, ID_NUMBERS):
            return {"match": False, "status": "unknown"}
        if isinstance(ref, IdNumber):
            found = self.views.query(
                f"SELECT n.status, p.status, p.name_folded, p.born FROM {ID_NUMBERS.physical()} n "
                f"LEFT JOIN {PEOPLE.physical()} p ON p.person_id = n.person_id "
                "WHERE n.id_number = ?",
                (str(ref),),
            )
        else:
            found = self.views.query(
                f"SELECT NULL, status, name_folded, born FROM {PEOPLE.physical()} "
                "WHERE person_id = ?",
                (str(ref),),
            )
        if not found:
            return {"match": False, "status": "unknown"}
        number_status, person_status, name_folded, person_born = found[0]
        if person_status is None:
            return {"match": False, "status": "unknown"}
        status = "cancelled" if number_status == "cancelled" else str(person_status)
        match = name_folded == fold_name(name) and person_born == born.isoformat()
        return {"match": match, "status": status}

    def find(
        self,
        name: str,
        born: date | None = None,
        province: str | None = None,
        limit: int = FIND_LIMIT,
    ) -> list[dict[str, Any]]:
        """People whose folded name holds every word of `name`, with their numbers."""
        if not self._built(PEOPLE):
            return []
        clauses: list[str] = []
        params: list[Any] = []
        words = fold_name(name).split()
        for word in words:
            clauses.append("(' ' || name_folded || ' ') LIKE ? ESCAPE '!'")
            escaped = word.replace("!", "!!").replace("%", "!%").replace("_", "!_")
            params.append(f"% {escaped} %")
        if born is not None:
            clauses.append("born = ?")
            params.append(born.isoformat())
        if province is not None:
            clauses.append("birth_province = ?")
            params.append(province)
        where = " AND ".join(clauses) or "1 = 1"
        rows = self.views.query(
            f"SELECT {', '.join(PEOPLE.columns)} FROM {PEOPLE.physical()} WHERE {where} "
            "ORDER BY name_folded, born, person_id LIMIT ?",
            (*params, limit),
        )
        return [person_document(dict(zip(PEOPLE.columns, row, strict=True))) for row in rows]

    def same_person_keys(
        self,
        name: str,
        born: date,
        birth_province: str,
        excluding: UUID,
        pending: Mapping[str, Row] | None = None,
    ) -> list[str]:
        """Display ids (ID number, else person UUID) of the people not merged away with this
        folded name, date of birth and birth province. `pending` holds `people` rows by person
        id that supersede the stored ones (the events the model has not applied yet)."""
        pending = pending or {}
        folded, born_on, excluded = fold_name(name), born.isoformat(), str(excluding)
        found: list[tuple[str, str | None]] = []
        if self._built(PEOPLE):
            rows = self.views.query(
                f"SELECT person_id, id_number FROM {PEOPLE.physical()} "
                "WHERE name_folded = ? AND born = ? AND birth_province = ? "
                "AND status <> 'merged' AND person_id <> ? ORDER BY person_id",
                (folded, born_on, birth_province, excluded),
            )
            found = [(person_id, number) for person_id, number in rows if person_id not in pending]
        found += [
            (row["person_id"], row["id_number"])
            for row in pending.values()
            if row["name_folded"] == folded
            and row["born"] == born_on
            and row["birth_province"] == birth_province
            and row["status"] != "merged"
            and row["person_id"] != excluded
        ]
        return [str(number or person_id) for person_id, number in sorted(found)]


class PossibleDuplicateFinder:
    """The register's `PossibleDuplicates` port, answered by the `people` model.

    The model may lag behind the log. A question reads the model's rows as stored and applies
    the events it has not applied yet in memory (`pending_rows`: the `people` projection over
    the event log, opened read-only), so a birth recorded a moment ago is seen, and asking
    writes nothing: a refused birth leaves the database as it was, and a models database that
    does not exist yet is not created by a question.

    Once the act is recorded, the caller brings the model up, for real, to where the last
    question read: `catch_up()`, an explicit step. It is the only one that writes.
    """

    def __init__(self, store: StoreURL | str | None, views: StoreURL | str | None = None) -> None:
        self.store = store
        self.views_url = views
        self._source: EventSource | None = None
        self._views: ViewDatabase | None = None
        #: Where the models are, and the head of the log the last question read to.
        self._views_at: StoreURL | None = None
        self._seen: int | None = None
        #: The candidates the last question found.
        self.last: list[str] = []

    def _open(self) -> tuple[EventSource, ViewDatabase]:
        if self._source is None:
            self._source = EventSource.open(self.store)
        if self._views is None:
            url = self.views_url or self._source.url
            self._views_at = url if isinstance(url, StoreURL) else StoreURL.parse(url)
            stored = self._views_at
            if stored.is_sqlite and not Path(stored.path).is_file():
                stored = _NO_MODELS  # a separate models file not made yet: nothing to read
            self._views = ViewDatabase.open(stored, create=False)
        return self._source, self._views

    def possible_duplicates(
        self, name: str, born: date, birth_province: str, *, excluding: UUID
    ) -> Sequence[str]:
        source, views = self._open()
        with database_errors(views.url.redacted()):
            self._seen, pending = pending_rows(source, views, PeopleProjection())
            self.last = ReadModels(views).same_person_keys(
                name, born, birth_province, excluding, pending.get(PEOPLE.physical())
            )
        return self.last

    def catch_up(self) -> None:
        """Bring the `people` model, for real, to where the last question read (nothing to do
        if no question was asked). Call it once the act is recorded; it creates the models'
        tables (and a separate models file) if they are not there yet."""
        if self._source is None or self._views_at is None or self._seen is None:
            return
        views = self._views
        if views is None or views.url == _NO_MODELS:
            if views is not None:
                views.close()
            views = self._views = ViewDatabase.open(self._views_at)
        else:
            with database_errors(self._views_at.redacted()):
                views.create_tracking()
        Engine(self._source, views).catch_up("people", upto=self._seen)

    def close(self) -> None:
        if self._views is not None:
            self._views.close()
            self._views = None
        if self._source is not None:
            self._source.close()
            self._source = None


#: An empty, private database: the models as they are before anything was projected.
_NO_MODELS = StoreURL.parse("sqlite:///:memory:")
