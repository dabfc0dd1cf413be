"""The acts a clerk (or an import file) submits, validated by pydantic before any rule runs.

Each field is parsed into a domain value; a bad value is `InvalidInput` (exit 2) with a
one-line message. The same models validate the CLI's options and the import file's rows.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    model_validator,
)

from domain.errors import InvalidInput
from domain.events import ChangeField, ChangeKind
from domain.identity import (
    CardReason,
    CertificateReason,
    CertificateRevocationGround,
    EidLockGround,
    RevocationGround,
    WithholdingGround,
    parse_choice,
)
from domain.residence import (
    HouseholdNumber,
    Relation,
    ResidenceKind,
    parse_ground,
    parse_kind,
    parse_relation,
)
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


def _kind(value: Any) -> Any:
    return parse_kind(value) if isinstance(value, str) else value


def _relation(value: Any) -> Any:
    return parse_relation(value) if isinstance(value, str) else value


def _household(value: Any) -> Any:
    """A household number (`HK` and ten digits), or, in an import row, the id of the act that
    set the household up (the row names it by `{"office", "reference"}`: importer/rows.py)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if _ACT_ID.fullmatch(text):
        return text
    return str(HouseholdNumber.parse(text))


_ACT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def _commune(value: Any) -> Any:
    if isinstance(value, str):
        code = value.strip()
        if not (code.isascii() and code.isdigit() and len(code) == 5):
            raise InvalidInput(f"a commune code is five digits, got {value!r}")
        return code
    return value


def _refs(value: Any) -> Any:
    """A list of people: ID numbers or UUIDs, comma separated or a JSON list."""
    if isinstance(value, str):
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    if isinstance(value, list | tuple):
        return tuple(
            str(parse_person_ref(item)) if isinstance(item, str) else item for item in value
        )
    return value


Kind = Annotated[ResidenceKind, BeforeValidator(_kind)]
HouseholdText = Annotated[str, BeforeValidator(_household)]
CommuneCode = Annotated[str, BeforeValidator(_commune)]


class RegisterResidence(Command):
    """A permanent residence names its household: a new one the person heads
    (`new_household`), or an existing one joined with a relation to its head. A temporary
    residence names its end (`until`) and no household."""

    KIND = "residence"

    person: PersonRefText
    kind: Kind
    commune: CommuneCode
    address: Annotated[str, _text("address")]
    until: LegalDate | None = None
    new_household: bool = False
    household: HouseholdText | None = None
    relation: Annotated[Relation, BeforeValidator(_relation)] | None = None
    effective: LegalDate | None = None

    @model_validator(mode="after")
    def _household_fits_kind(self) -> Self:
        joins = self.household is not None or self.relation is not None
        if self.kind is ResidenceKind.TEMPORARY:
            if self.new_household or joins:
                raise InvalidInput("a temporary residence takes no household options")
            if self.until is None:
                raise InvalidInput("a temporary residence needs --until")
            return self
        if self.until is not None:
            raise InvalidInput("a permanent residence takes no --until")
        if self.new_household == joins or (joins and None in (self.household, self.relation)):
            raise InvalidInput(
                "a permanent residence needs --new-household, or --household HH with --relation"
            )
        return self


class EndResidence(Command):
    KIND = "end_residence"

    person: PersonRefText
    kind: Kind
    ground: str
    effective: LegalDate | None = None

    @model_validator(mode="after")
    def _ground_fits_kind(self) -> Self:
        parse_ground(self.kind, self.ground)
        return self


class ExtendResidence(Command):
    KIND = "extend_residence"

    person: PersonRefText
    until: LegalDate
    effective: LegalDate | None = None


class DeclareAbode(Command):
    KIND = "abode"

    person: PersonRefText
    commune: CommuneCode
    address: Annotated[str, _text("address")]
    effective: LegalDate | None = None


class ChangeHead(Command):
    KIND = "change_head"

    household: HouseholdText
    head: PersonRefText
    effective: LegalDate | None = None


class SplitHousehold(Command):
    KIND = "split_household"

    household: HouseholdText
    members: Annotated[tuple[str, ...], BeforeValidator(_refs)]
    head: PersonRefText
    effective: LegalDate | None = None

    @model_validator(mode="after")
    def _head_moves(self) -> Self:
        if not self.members:
            raise InvalidInput("a split names the members who move: --members ID[,ID…]")
        if self.head not in self.members:
            raise InvalidInput("the new household's head is one of the members who move")
        if len(set(self.members)) != len(self.members):
            raise InvalidInput("a member is named twice")
        return self


class ConfirmRecord(Command):
    KIND = "confirm_record"

    person: PersonRefText
    effective: LegalDate | None = None


class ProposeDeletion(Command):
    KIND = "propose_deletion"

    person: PersonRefText
    reason: Annotated[str, _text("reason")]
    effective: LegalDate | None = None


class WithdrawDeletionProposal(Command):
    KIND = "withdraw_deletion_proposal"

    person: PersonRefText
    effective: LegalDate | None = None


def _choice(choices: type[StrEnum], what: str) -> BeforeValidator:
    return BeforeValidator(lambda v: parse_choice(choices, v, what) if isinstance(v, str) else v)


class IssueCard(Command):
    """Issue, renew or re-issue an identity card (Art. 19, 21, 24)."""

    KIND = "issue_card"

    person: PersonRefText
    reason: Annotated[CardReason, _choice(CardReason, "reason")]
    effective: LegalDate | None = None


class RevokeCard(Command):
    KIND = "revoke_card"

    person: PersonRefText
    ground: Annotated[RevocationGround, _choice(RevocationGround, "ground")]
    effective: LegalDate | None = None


class WithholdCard(Command):
    KIND = "withhold_card"

    person: PersonRefText
    ground: Annotated[WithholdingGround, _choice(WithholdingGround, "ground")]
    effective: LegalDate | None = None


class ReturnCard(Command):
    KIND = "return_card"

    person: PersonRefText
    effective: LegalDate | None = None


class CreateEid(Command):
    KIND = "create_eid"

    person: PersonRefText
    effective: LegalDate | None = None


class LockEid(Command):
    KIND = "lock_eid"

    person: PersonRefText
    ground: Annotated[EidLockGround, _choice(EidLockGround, "ground")]
    effective: LegalDate | None = None


class UnlockEid(Command):
    KIND = "unlock_eid"

    person: PersonRefText
    effective: LegalDate | None = None


class IssueIdentityCertificate(Command):
    """Issue an identity certificate (Art. 30), or a new one for changed data, loss, damage."""

    KIND = "issue_identity_certificate"

    person: PersonRefText
    reason: Annotated[CertificateReason, _choice(CertificateReason, "reason")] = (
        CertificateReason.FIRST
    )
    effective: LegalDate | None = None


class RevokeIdentityCertificate(Command):
    KIND = "revoke_identity_certificate"

    person: PersonRefText
    ground: Annotated[CertificateRevocationGround, _choice(CertificateRevocationGround, "ground")]
    effective: LegalDate | None = None


#: The acts on identity documents (application/identity_acts.py decides them).
IDENTITY_COMMANDS: tuple[type[Command], ...] = (
    IssueCard,
    RevokeCard,
    WithholdCard,
    ReturnCard,
    CreateEid,
    LockEid,
    UnlockEid,
    IssueIdentityCertificate,
    RevokeIdentityCertificate,
)

_ACTS: tuple[type[Command], ...] = (
    RegisterBirth,
    RecordDeath,
    RenounceNationality,
    ChangeRecord,
    MergeDuplicate,
    RegisterResidence,
    EndResidence,
    ExtendResidence,
    DeclareAbode,
    ChangeHead,
    SplitHousehold,
    ConfirmRecord,
    ProposeDeletion,
    WithdrawDeletionProposal,
    *IDENTITY_COMMANDS,
)
ACT_COMMANDS: dict[str, type[Command]] = {cls.KIND: cls for cls in _ACTS}

#: The name an import row gives a command's own `kind` field (a row's `kind` names the act).
INNER_KIND = {
    ChangeRecord.KIND: "change_kind",
    RegisterResidence.KIND: "residence_kind",
    EndResidence.KIND: "residence_kind",
}

#: Fields of an act that name a person: an ID number or a person UUID (as canonical text).
PERSON_FIELDS = ("person", "into", "father", "mother", "head")
#: Fields that name several people.
PEOPLE_FIELDS = ("members",)


def person_refs(act: Command) -> list[str]:
    """The person references an act holds, as its command model left them. Read from the
    model's fields (`__dict__`): asking a model for a field it lacks goes through pydantic's
    slow `__getattr__`, which an import would pay for every row."""
    fields = act.__dict__
    refs = [ref for key in PERSON_FIELDS if isinstance(ref := fields.get(key), str)]
    for key in PEOPLE_FIELDS:
        refs.extend(fields.get(key) or ())
    return refs
