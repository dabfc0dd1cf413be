"""Answers from the read models: the statistics report, ID verification, look-ups, duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from domain.store import StoreURL
from domain.values import IdNumber, fold_name
from projections.engine import Engine
from projections.id_registry import ID_NUMBERS
from projections.people import PEOPLE, person_document
from projections.source import EventSource
from projections.statistics import COUNTS, SINGLE
from projections.views import ViewDatabase, database_errors

#: Most candidates `find` returns.
FIND_LIMIT = 50


@dataclass
class ReadModels:
    """Queries over the models in one database. Callers catch them up first if they want."""

    views: ViewDatabase

    def report(self, since: date | None = None) -> dict[str, Any]:
        """The statistics in the `report --json` shape."""
        rows = self.views.query(f"SELECT metric, key, value FROM {COUNTS.physical()}", ())
        report: dict[str, Any] = dict.fromkeys(SINGLE, 0)
        record_changes: dict[str, int] = {}
        by_province: dict[str, int] = {}
        births = 0
        for metric, key, value in rows:
            if metric in report:
                report[metric] = int(value)
            elif metric == "record_changes":
                record_changes[key] = int(value)
            elif metric == "by_province":
                by_province[key] = int(value)
            elif metric == "births" and since is not None and key >= since.isoformat():
                births += int(value)
        report["record_changes"] = dict(sorted(record_changes.items()))
        if since is not None:
            report["births_since"] = births
        report["by_province"] = dict(sorted(by_province.items()))
        return report

    def verify(self, number: IdNumber, name: str, born: date) -> dict[str, Any]:
        """Does the number belong to a person of this name and date of birth, and its status."""
        found = self.views.query(
            f"SELECT n.status, p.status, p.name_folded, p.born FROM {ID_NUMBERS.physical()} n "
            f"LEFT JOIN {PEOPLE.physical()} p ON p.person_id = n.person_id "
            "WHERE n.id_number = ?",
            (str(number),),
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
        self, name: str, born: date, birth_province: str, excluding: UUID
    ) -> list[str]:
        rows = self.views.query(
            f"SELECT person_id, id_number FROM {PEOPLE.physical()} "
            "WHERE name_folded = ? AND born = ? AND birth_province = ? "
            "AND status <> 'merged' AND person_id <> ? ORDER BY person_id",
            (fold_name(name), born.isoformat(), birth_province, str(excluding)),
        )
        return [str(number or person_id) for person_id, number in rows]


class PossibleDuplicateFinder:
    """The register's `PossibleDuplicates` port, answered by the `people` model.

    It catches the model up first, so a birth recorded a moment ago is seen.
    """

    def __init__(self, store: StoreURL | str | None, views: StoreURL | str | None = None) -> None:
        self.store = store
        self.views_url = views
        self._engine: Engine | None = None
        #: The candidates the last question found.
        self.last: list[str] = []

    def _open(self) -> Engine:
        if self._engine is None:
            source = EventSource.open(self.store)
            views = ViewDatabase.open(self.views_url or source.url)
            self._engine = Engine(source, views)
        return self._engine

    def possible_duplicates(
        self, name: str, born: date, birth_province: str, *, excluding: UUID
    ) -> Sequence[str]:
        engine = self._open()
        engine.catch_up("people")
        with database_errors(engine.views.url.redacted()):
            self.last = ReadModels(engine.views).same_person_keys(
                name, born, birth_province, excluding
            )
        return self.last

    def close(self) -> None:
        if self._engine is not None:
            self._engine.views.close()
            if self._engine.source is not None:
                self._engine.source.close()
