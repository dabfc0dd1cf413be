"""The acts a clerk (or an import file) submits, validated by pydantic before any rule runs.

Each field is parsed into a domain value; a bad value is `InvalidInput` (exit 2) with a
one-line message. The same models validate the CLI's options and the import file's rows.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

from domain.errors import InvalidInput
from domain.events import ChangeField, ChangeKind
from domain.values import (
    Nationality,
    Sex,
    clean_text,
    parse_date,
    parse_nationality,
    parse_person_ref,
    parse_province,
    parse_sex,
)


def _date(value: Any) -> Any:
    return parse_date(value) if isinstance(value, str) else value


def _text(what: str) -> AfterValidator:
    return AfterValidator(lambda v: clean_text(v, what))


def _ref(value: Any) -> Any:
    return str(parse_person_ref(value)) if isinstance(value, str) else value


def _sex(value: Any) -> Any:
    return parse_sex(value) if isinstance(value, str) else value


def _nationality(value: Any) -> Any:
    return parse_nationality(value) if isinstance(value, str) else value


def _province(value: Any) -> Any:
    return parse_province(value) if isinstance(value, str) else value


LegalDate = Annotated[date, BeforeValidator(_date)]
PersonRefText = Annotated[str, BeforeValidator(_ref)]
ProvinceCode = Annotated[str, BeforeValidator(_province)]


def first_error(error: ValidationError) -> str:
    """One line for the first problem pydantic found."""
    detail = error.errors()[0]
    where = ".".join(str(part) for part in detail["loc"]) or "input"
    cause = detail.get("ctx", {}).get("error")
    if isinstance(cause, InvalidInput):
        return cause.message
    if detail["type"] == "missing":
        return f"{where} is required"
    if detail["type"] == "extra_forbidden":
        return f"{where} is not a known field"
    return f"{where}: {detail['msg']}"


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    KIND: ClassVar[str]

    @classmethod
    def parse(cls, **raw: Any) -> Self:
        """Validate raw input; any problem is `InvalidInput` with a one-line message."""
        try:
            return cls.model_validate(raw)
        except ValidationError as error:
            raise InvalidInput(first_error(error)) from None


class Clerking(Command):
    """Who records the act, at which office, under which reference (certificate or decision)."""

    KIND = "clerking"

    clerk: Annotated[str, _text("clerk")]
    office: Annotated[str, _text("office")]
    reference: Annotated[str, _text("reference")]


class RegisterBirth(Command):
    KIND = "birth"

    name: Annotated[str, _text("name")]
    sex: Annotated[Sex, BeforeValidator(_sex)]
    born: LegalDate
    province: ProvinceCode
    nationality: Annotated[Nationality, BeforeValidator(_nationality)] = Nationality.VIETNAMESE
    ethnicity: Annotated[str, _text("ethnicity")] | None = None
    place_of_birth: Annotated[str, _text("place of birth")] | None = None
    father: PersonRefText | None = None
    mother: PersonRefText | None = None
    registered_on: LegalDate | None = None


class RecordDeath(Command):
    KIND = "death"

    person: PersonRefText
    died_on: LegalDate
    place: Annotated[str, _text("place")] | None = None


class RenounceNationality(Command):
    KIND = "renunciation"

    person: PersonRefText
    effective: LegalDate


class ChangeRecord(Command):
    KIND = "change"

    person: PersonRefText
    field: ChangeField
    value: str
    kind: ChangeKind
    effective: LegalDate | None = None


class MergeDuplicate(Command):
    KIND = "merge"

    person: PersonRefText
    into: PersonRefText


ACT_COMMANDS: dict[str, type[Command]] = {
    cls.KIND: cls
    for cls in (RegisterBirth, RecordDeath, RenounceNationality, ChangeRecord, MergeDuplicate)
}

#: Fields of an act that name a person: an ID number or a person UUID (as canonical text).
PERSON_FIELDS = ("person", "into", "father", "mother")


def person_refs(act: Command) -> list[str]:
    """The person references an act holds, as its command model left them. Read from the
    model's fields (`__dict__`): asking a model for a field it lacks goes through pydantic's
    slow `__getattr__`, which an import would pay for every row."""
    fields = act.__dict__
    return [ref for key in PERSON_FIELDS if isinstance(ref := fields.get(key), str)]
