"""Import rows: a file's lines, validated by the same command models as a clerk's command.

A row passes the models here, which may be a parse worker process (`importer.parse_worker`);
what it names and whether its act is allowed are decided later, with the batch it is in
(`importer.batch`). The format of a row is documented in docs/import.md.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from application.acts import act_fingerprint
from domain.commands import (
    ACT_COMMANDS,
    INNER_KIND,
    PEOPLE_FIELDS,
    PERSON_FIELDS,
    Clerking,
    Command,
    person_refs,
)
from domain.errors import CivledgerError, InvalidInput
from domain.registry import act_id, person_id_for_birth
from domain.values import IdNumber, clean_text, parse_person_ref


@dataclass(frozen=True)
class Rejected:
    """A row that is not in the ledger: its line number, a one-line reason, its text."""

    line: int
    reason: str
    text: str
    #: The error that refused the row, when a rule or a value did (not pickled back from a
    #: parse worker's rejects: their reason is all they carry).
    error: CivledgerError | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Row:
    """A row that passed the command models: the act, and who recorded it where.

    `act_id` names the act's record; `digest` is its fingerprint when it depends on the row
    alone (no person named by ID number, which only the store can resolve), else None;
    Both are computed where the row is parsed, which may be a worker process."""

    line: int
    text: str
    act: Command
    clerking: Clerking
    act_id: UUID
    digest: str | None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled lean, for the trip back from a parse worker: field values, not models."""
        act, clerking = self.act, self.clerking
        return (
            _row_from_wire,
            (
                self.line,
                self.text,
                act.KIND,
                tuple(act.__dict__.values()),
                tuple(act.model_fields_set),
                (clerking.clerk, clerking.office, clerking.reference),
                self.act_id.bytes,
                self.digest,
            ),
        )


def _row_from_wire(
    line: int,
    text: str,
    kind: str,
    values: tuple[Any, ...],
    fields_set: tuple[str, ...],
    clerking: tuple[str, str, str],
    aid: bytes,
    digest: str | None,
) -> Row:
    """A pickled `Row` again: its models rebuilt by pydantic's own unpickling (`__setstate__`)
    from values that the same models validated, in the worker."""
    return Row(
        line,
        text,
        _model_from_wire(ACT_COMMANDS[kind], values, fields_set),
        _model_from_wire(Clerking, clerking, _CLERKING_FIELDS),
        UUID(bytes=aid),
        digest,
    )


_MODELS: list[type[Command]] = [Clerking, *ACT_COMMANDS.values()]
_FIELDS: dict[type[Command], tuple[str, ...]] = {
    model: tuple(model.model_fields) for model in _MODELS
}
_CLERKING_FIELDS = _FIELDS[Clerking]
_Model = TypeVar("_Model", bound=Command)


def _model_from_wire(
    model: type[_Model], values: tuple[Any, ...], fields_set: tuple[str, ...]
) -> _Model:
    instance = model.__new__(model)
    instance.__setstate__(
        {
            "__dict__": dict(zip(_FIELDS[model], values, strict=True)),
            "__pydantic_fields_set__": set(fields_set),
            "__pydantic_extra__": None,
            "__pydantic_private__": None,
        }
    )
    return instance


def _birth_act_ref(value: dict[str, Any], where: str) -> str:
    """`{"office": ..., "reference": ...}` of a birth act names the person it registered."""
    if set(value) != {"office", "reference"} or not all(isinstance(v, str) for v in value.values()):
        raise InvalidInput(
            f"{where} must be an ID number, a person UUID or "
            '{"office": ..., "reference": ...} of a birth act'
        )
    office = clean_text(value["office"], f"{where}.office")
    reference = clean_text(value["reference"], f"{where}.reference")
    return str(person_id_for_birth(office, reference))


#: The acts that set up a household, which a row may name it by.
HOUSEHOLD_ACTS = ("residence", "split_household")


def _household_act_ref(value: dict[str, Any]) -> str:
    """`{"office": ..., "reference": ...[, "act": "split_household"]}` names the household the
    act set up (a residence with a new household, by default, or a split): its act's id."""
    act = value.get("act", "residence")
    if set(value) - {"act"} != {"office", "reference"} or act not in HOUSEHOLD_ACTS:
        raise InvalidInput(
            'household must be HK and ten digits or {"office": ..., "reference": ...} of the '
            'residence act that set it up (with "act": "split_household" for a split)'
        )
    office = clean_text(str(value["office"]), "household.office")
    reference = clean_text(str(value["reference"]), "household.reference")
    return str(act_id(act, office, reference))


def parse_row(line: int, text: str) -> Row:
    """Validate one row with the same models as a clerk's command; `InvalidInput` if bad."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        message = error.msg.removesuffix(" at")  # "Invalid control character at"
        raise InvalidInput(f"not JSON: {message} at column {error.colno}") from None
    if not isinstance(raw, dict):
        raise InvalidInput("a row must be a JSON object")
    kind = raw.pop("kind", None)
    if kind is None:
        raise InvalidInput("kind is required")
    command = ACT_COMMANDS.get(kind) if isinstance(kind, str) else None
    if command is None:
        raise InvalidInput(f"unknown kind {kind!r}; expected one of {', '.join(ACT_COMMANDS)}")
    clerking = Clerking.parse(
        **{key: raw.pop(key) for key in ("clerk", "office", "reference") if key in raw}
    )
    inner = INNER_KIND.get(command.KIND)
    if inner is not None:
        # `kind` names the act, so a row names its command's own `kind` field otherwise:
        # `change_kind` for a change, `residence_kind` for a residence act.
        if inner not in raw:
            raise InvalidInput(f"{inner} is required")
        raw["kind"] = raw.pop(inner)
    for key in PERSON_FIELDS:
        if isinstance(raw.get(key), dict):
            raw[key] = _birth_act_ref(raw[key], key)
    if isinstance(raw.get("household"), dict):
        raw["household"] = _household_act_ref(raw["household"])
    for key in PEOPLE_FIELDS:  # a list of people: each named as a `person` is
        if isinstance(raw.get(key), list):
            raw[key] = [
                _birth_act_ref(ref, f"{key}.{n}") if isinstance(ref, dict) else ref
                for n, ref in enumerate(raw[key])
            ]
    act = command.parse(**raw)
    digest = None
    if not any(isinstance(parse_person_ref(ref), IdNumber) for ref in person_refs(act)):
        digest = act_fingerprint(act, parse_person_ref)
    return Row(
        line,
        text,
        act,
        clerking,
        act_id(act.KIND, clerking.office, clerking.reference),
        digest,
    )


def numbered_lines(lines: Iterable[bytes], first: int = 1) -> Iterator[tuple[int, bytes]]:
    """Number the lines of a file, skipping blank ones (they are not rows). A byte-order mark
    at the start of the file (some editors write one) is not part of the first row."""
    for number, line in enumerate(lines, first):
        data = line
        if number == first and data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        if data.strip():
            yield number, data


@dataclass
class Parsed:
    """One chunk of input: how many rows, those that passed the command models, the rest."""

    lines: int
    rows: list[Row]
    rejected: list[Rejected]


def parse_chunk(lines: list[tuple[int, bytes]]) -> Parsed:
    """Validate a chunk of numbered lines: the rows that pass, and the reasons of the rest."""
    return _parse(lines)


def _parse(lines: list[tuple[int, bytes]]) -> Parsed:
    rows: list[Row] = []
    rejected: list[Rejected] = []
    for number, data in lines:
        try:
            text = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as error:
            rejected.append(
                Rejected(
                    number,
                    f"not UTF-8 at byte {error.start}",
                    data.decode("utf-8", "replace").rstrip("\r\n"),
                )
            )
            continue
        try:
            rows.append(parse_row(number, text))
        except CivledgerError as error:
            rejected.append(Rejected(number, " ".join(error.message.split()), text))
    return Parsed(len(lines), rows, rejected)
