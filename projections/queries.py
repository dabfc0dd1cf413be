"""Answers from the read models: the statistics report, ID verification, look-ups, duplicates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.errors import CivledgerError
from infrastructure.store_url import StoreURL
from domain.values import IdNumber, PersonRef, fold_name
from projections.engine import Engine
from projections.id_registry import ID_NUMBERS
from projections.people import PEOPLE, person_document
from projections.source import EventSource
from projections.statistics import COUNTS, SINGLE
from projections.views import Row, ViewDatabase, database_errors

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

    def verify(self, ref: PersonRef, name: str, born: date) -> dict[str, Any]:
        """Does the ID number, or the person UUID, belong to a person of this name and date of
        birth, and their status (`cancelled` for a number no longer held)."""
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
        if self.views.has_table(PEOPLE.physical()):
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

    The model may lag behind the log. The events it has not applied yet are applied in memory,
    over the rows as stored, so a birth recorded a moment ago is seen, and asking writes
    nothing: a refused birth leaves the database as it was. Used as a context manager, the
    finder catches the model up, to where it read, when the block ends without an error (the
    act is recorded), so that the next question starts from there.
    """

    def __init__(self, store: StoreURL | str | None, views: StoreURL | str | None = None) -> None:
        self.store = store
        self.views_url = views
        self._engine: Engine | None = None
        #: Where the models are, and the head of the log the last question read to.
        self._views: StoreURL | None = None
        self._seen: int | None = None
        #: The candidates the last question found.
        self.last: list[str] = []
        #: Why the model could not be caught up after the act was recorded (None: it was).
        self.not_kept: str | None = None

    def _open(self) -> Engine:
        if self._engine is None:
            source = EventSource.open(self.store)
            try:
                url = self.views_url or source.url
                self._views = url if isinstance(url, StoreURL) else StoreURL.parse(url)
                stored = self._views
                if stored.is_sqlite and not Path(stored.path).is_file():
                    stored = _NO_MODELS  # a separate models file not made yet: nothing to read
                views = ViewDatabase.open(stored, create=False)
            except BaseException:
                source.close()
                raise
            self._engine = Engine(source, views, create_tables=False)
        return self._engine

    def possible_duplicates(
        self, name: str, born: date, birth_province: str, *, excluding: UUID
    ) -> Sequence[str]:
        engine = self._open()
        self._seen, pending = engine.pending("people")
        with database_errors(engine.views.url.redacted()):
            self.last = ReadModels(engine.views).same_person_keys(
                name, born, birth_province, excluding, pending.get(PEOPLE.physical())
            )
        return self.last

    def keep(self) -> None:
        """Catch the `people` model up, for real, to where the last question read."""
        engine = self._engine
        if engine is None or self._views is None or self._seen is None:
            return
        if engine.views.url == _NO_MODELS:
            engine.views.close()
            engine.views = ViewDatabase.open(self._views)
        else:
            with database_errors(self._views.redacted()):
                engine.views.create_tracking()
        Engine(engine.source, engine.views).catch_up("people", upto=self._seen)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.views.close()
            if self._engine.source is not None:
                self._engine.source.close()
            self._engine = None

    def __enter__(self) -> PossibleDuplicateFinder:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            if kind is None:
                self.keep()
        except CivledgerError as error:
            self.not_kept = error.message  # the act is recorded; the model catches up later
        finally:
            self.close()


#: An empty, private database: the models as they are before anything was projected.
_NO_MODELS = StoreURL.parse("sqlite:///:memory:")
