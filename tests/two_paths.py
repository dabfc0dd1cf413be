"""Run the same acts down both paths, a clerk's and an import's, and say what each recorded.

An act is given as an import row's fields (`kind`, its fields, clerk, office, reference). The
clerk's path parses them with the same command models as the CLI and calls
`CivilRegister.execute` act by act; the import's path writes them as a file and imports it.
People are named by a label: `Ref(label, by)` becomes, in each path's own store, the person's
UUID, their current ID number or a number cancelled from them (numbers are drawn at random, so
each path has its own).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast
from uuid import UUID

from typer.testing import CliRunner

from application.register import CivilRegister
from cli.errors import exit_code_of
from cli.main import app
from domain.commands import ACT_COMMANDS, INNER_KIND, PEOPLE_FIELDS, PERSON_FIELDS, Clerking
from domain.errors import CivledgerError
from domain.events import RegisterEvent
from domain.reference import communes, configure_communes
from domain.registry import person_id_for_birth
from importer.pipeline import importer_for
from importer.rows import Rejected, numbered_lines

CLERK = "Lê Thị Lan"
OFFICE = "HN-BADINH"
NUMBER = Literal["uuid", "number", "cancelled"]


@dataclass(frozen=True)
class Ref:
    """A person, by the label of their birth act's reference."""

    label: str
    by: NUMBER = "uuid"


@dataclass(frozen=True)
class HouseholdOf:
    """The household a person (by label) belongs to now, in each path's own store (household
    numbers are drawn at random)."""

    label: str


def person_id(label: str) -> UUID:
    return person_id_for_birth(OFFICE, label)


def act(kind: str, reference: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "clerk": CLERK, "office": OFFICE, "reference": reference, **fields}


def birth(reference: str, **fields: Any) -> dict[str, Any]:
    """A birth; its person's label is its reference."""
    return act("birth", reference, **fields)


def resolve_refs(register: CivilRegister, row: dict[str, Any]) -> dict[str, Any]:
    """The row with each `Ref` replaced by what it names in this register."""
    resolved = dict(row)
    if isinstance(row.get("household"), HouseholdOf):
        try:
            number = register.person(person_id(row["household"].label)).household
        except CivledgerError:
            number = None
        resolved["household"] = number or "HK0000000000"
    for key in PEOPLE_FIELDS:
        if isinstance(row.get(key), list):
            resolved[key] = [resolve_refs(register, {"person": ref})["person"] for ref in row[key]]
    for key in PERSON_FIELDS:
        ref = row.get(key)
        if not isinstance(ref, Ref):
            continue
        pid = person_id(ref.label)
        if ref.by == "uuid":
            resolved[key] = str(pid)
            continue
        try:
            person = register.person(pid)
        except CivledgerError:  # not registered (a refused birth): name it by UUID
            resolved[key] = str(pid)
            continue
        numbers = [person.id_number] if ref.by == "number" else list(person.cancelled_id_numbers)
        resolved[key] = next((n for n in numbers if n), str(pid))
    return resolved


Outcome = tuple[str, ...]  # ("recorded",) / ("already",) / ("refused", code, message)


def as_clerk(register: CivilRegister, rows: Sequence[dict[str, Any]]) -> list[Outcome]:
    """Each row as a clerk's act, one after the other."""
    outcomes: list[Outcome] = []
    for raw in rows:
        fields = resolve_refs(register, raw)
        kind = fields.pop("kind")
        try:
            clerking = Clerking.parse(
                **{k: fields.pop(k) for k in ("clerk", "office", "reference")}
            )
            inner = INNER_KIND.get(kind)
            if inner is not None:
                fields["kind"] = fields.pop(inner)
            command = ACT_COMMANDS[kind].parse(**fields)
            outcome = register.execute(command, clerking)
        except CivledgerError as error:
            outcomes.append(("refused", str(exit_code_of(error)), error.message))
            continue
        outcomes.append(("already",) if outcome.already_recorded else ("recorded",))
    return outcomes


def as_import(
    register: CivilRegister, rows: Sequence[dict[str, Any]], batch_size: int
) -> list[Outcome]:
    """All rows as one import file. The import reports which rows it refused and how many it
    recorded or found already recorded; the others are told apart by the clerk's outcomes'
    counts in the caller."""
    lines = [json.dumps(resolve_refs(register, raw), ensure_ascii=False).encode() for raw in rows]
    rejected: list[Rejected] = []
    tally = importer_for(register, batch_size, 0).run(numbered_lines(lines), rejected.append)
    by_line = {reject.line: reject for reject in rejected}
    outcomes: list[Outcome] = []
    for line in range(1, len(rows) + 1):
        reject = by_line.get(line)
        if reject is None:
            outcomes.append(("recorded or already",))
        elif reject.error is None:
            outcomes.append(("refused", "2", reject.reason))  # refused by the command models
        else:
            outcomes.append(("refused", str(exit_code_of(reject.error)), reject.reason))
    assert tally.rejected == len(rejected)
    outcomes.append(("tally", str(tally.recorded), str(tally.already_recorded)))
    return outcomes


_SERIAL = re.compile(r"\b(\d{6})\d{6}\b")
_HOUSEHOLD = re.compile(r"\bHK\d{10}\b")


def _masked_text(text: str) -> str:
    """Random serials masked: an ID number's last six digits, a household number's ten."""
    return _HOUSEHOLD.sub("HK**********", _SERIAL.sub(r"\1******", text))


def compare_outcomes(clerk: list[Outcome], imported: list[Outcome]) -> None:
    """The same rows refused, with the same code and message (random serials masked); the
    same counts of the rest."""
    clerk = [tuple(_masked_text(part) for part in o) for o in clerk]
    imported = [tuple(_masked_text(part) for part in o) for o in imported]
    *per_row, (_, recorded, already) = imported
    assert len(per_row) == len(clerk)
    for index, (theirs, ours) in enumerate(zip(per_row, clerk, strict=True), 1):
        if ours[0] == "refused":
            assert theirs == ours, f"row {index}"
        else:
            assert theirs == ("recorded or already",), f"row {index}: {theirs}"
    assert int(recorded) == sum(1 for o in clerk if o == ("recorded",))
    assert int(already) == sum(1 for o in clerk if o == ("already",))


def _masked(value: Any) -> Any:
    """An ID number's random serial masked: `PPPCYY******` (the prefix is the register's)."""
    if isinstance(value, str) and len(value) == 12 and value.isdigit():
        return value[:6] + "******"
    if isinstance(value, str) and _HOUSEHOLD.fullmatch(value):
        return "HK**********"
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


#: Acts whose content names a household, whose number each path draws for itself.
HOUSEHOLD_NAMING = {"residence", "change_head", "split_household"}


def ledger(register: CivilRegister) -> list[dict[str, Any]]:
    """Every event of the log, without its record time, random serials masked, number claims
    named by their holder, in a stable order (aggregate, then version)."""
    events = []
    households: dict[str, str] = {}  # a household's id (drawn number): who set it up, when
    for notification in register.recorder.select_notifications(start=None, limit=10**7):
        event = cast(RegisterEvent, register.mapper.to_domain_event(notification))
        document = {k: _masked(v) for k, v in event.model_dump(mode="json").items()}
        document.pop("recorded_at")
        document["type"] = type(event).__name__
        if document["type"] == "IdNumberClaimed":
            document["originator_id"] = f"claim of {document['person_id']}"
        if document["type"] == "HouseholdEstablished":
            households[document["originator_id"]] = (
                f"household of {document['head_id']} from {document['occurred_on']}"
            )
        if document["originator_id"] in households:
            document["originator_id"] = households[document["originator_id"]]
        if document["type"] == "ActRecorded" and document["kind"] in HOUSEHOLD_NAMING:
            document["fingerprint"] = "(covers a drawn household number)"
        events.append(document)
    return sorted(
        events,
        key=lambda e: (str(e["originator_id"]), e["originator_version"], e.get("id_number", "")),
    )


def people(register: CivilRegister, labels: Sequence[str]) -> dict[str, Any]:
    """`show --json` of each registered person, numbers masked."""
    shown: dict[str, Any] = {}
    for label in labels:
        try:
            person = register.person(person_id(label))
        except CivledgerError:
            shown[label] = None
            continue
        shown[label] = {k: _masked(v) for k, v in person.as_document().items()}
    return shown


def report(url: str) -> dict[str, Any]:
    """`report --json` of the store (the models are caught up first, as the command does)."""
    result = CliRunner().invoke(app, ["report", "--store", url, "--json"])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


class FakeCommunes:
    """A commune directory that knows a few codes on every date, for tests of the acts (the
    real directory, `infrastructure.communes`, is tested on its own)."""

    def __init__(self, *codes: str) -> None:
        self.codes = set(codes)

    def name_on(self, code: str, on: object) -> str | None:
        return f"commune {code}" if code in self.codes else None

    def version_on(self, on: object) -> str:
        return "a test list"


@contextlib.contextmanager
def communes_known(*codes: str) -> Iterator[None]:
    """Configure the domain with `FakeCommunes(*codes)` for the block, then restore."""
    before = communes()
    configure_communes(FakeCommunes(*codes))
    try:
        yield
    finally:
        configure_communes(before)
