"""Uniqueness kept by the store: ID-number claims and recorded acts.

A claim's aggregate id derives from the number (uuid5), and an act's from (kind, office,
reference). Both are saved in the same `save()` as the person's events, so a second claim of a
number, or a second recording of an act, fails inside the store's transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import date
from functools import lru_cache
from typing import Any
from uuid import UUID, SafeUUID

from domain.aggregate import ActBasis, Aggregate, applies
from domain.events import ActRecorded, IdNumberClaimed, LookAlikeNoted
from domain.residence import HouseholdNumber
from domain.values import IdNumber, Sex, fold_name

NAMESPACE_CLAIM = UUID("6f1c1b8e-4f5e-5b8a-9a53-3c3b1c0d1a01")
NAMESPACE_ACT = UUID("6f1c1b8e-4f5e-5b8a-9a53-3c3b1c0d1a02")
NAMESPACE_PERSON = UUID("6f1c1b8e-4f5e-5b8a-9a53-3c3b1c0d1a03")
NAMESPACE_LOOK_ALIKE = UUID("6f1c1b8e-4f5e-5b8a-9a53-3c3b1c0d1a04")
NAMESPACE_HOUSEHOLD = UUID("6f1c1b8e-4f5e-5b8a-9a53-3c3b1c0d1a05")


_NAMESPACE_CLAIM = NAMESPACE_CLAIM.bytes
_NAMESPACE_ACT = NAMESPACE_ACT.bytes
_NAMESPACE_PERSON = NAMESPACE_PERSON.bytes
_VERSION_5 = 5 << 76
_VARIANT_RFC_4122 = 0x8000 << 48
_KEEP = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)


def uuid5_of(namespace: bytes, name: str) -> UUID:
    """`uuid.uuid5(UUID(bytes=namespace), name)`, computed without the UUID constructor's
    checks: an import derives four or five of these per row, and the constructor was a tenth
    of its time."""
    digest = hashlib.sha1(namespace + name.encode(), usedforsecurity=False).digest()
    value = (int.from_bytes(digest[:16]) & _KEEP) | _VERSION_5 | _VARIANT_RFC_4122
    uuid = object.__new__(UUID)
    object.__setattr__(uuid, "int", value)
    object.__setattr__(uuid, "is_safe", SafeUUID.unknown)
    return uuid


@lru_cache(maxsize=16384)  # a row derives each id two or three times
def claim_id(number: IdNumber | str) -> UUID:
    return uuid5_of(_NAMESPACE_CLAIM, str(number))


def act_key(kind: str, office: str, reference: str) -> str:
    return f"{kind}\x1f{office}\x1f{reference}"


@lru_cache(maxsize=16384)  # a row derives each id two or three times
def act_id(kind: str, office: str, reference: str) -> UUID:
    return uuid5_of(_NAMESPACE_ACT, act_key(kind, office, reference))


@lru_cache(maxsize=16384)  # a row derives each id two or three times
def person_id_for_birth(office: str, reference: str) -> UUID:
    """A person's id derives from their birth act, so a replayed registration is the same person."""
    return uuid5_of(_NAMESPACE_PERSON, act_key("birth", office, reference))


def household_id(number: object) -> UUID:
    """The aggregate id of a household, derived from its number (`HouseholdNumber`)."""
    return uuid5_of(NAMESPACE_HOUSEHOLD.bytes, str(number))


def draw_household_number() -> HouseholdNumber:
    """Ten random digits from a cryptographic source; never counted up."""
    return HouseholdNumber.compose(secrets.randbelow(10**10))


def look_alike_id(name: str, born: date, birth_province: str) -> UUID:
    """The id of the look-alike claim of everyone with this folded name (case and diacritics
    ignored), date of birth and birth province: the key of the possible-duplicate check."""
    key = f"{fold_name(name)}\x1f{born.isoformat()}\x1f{birth_province}"
    return uuid5_of(NAMESPACE_LOOK_ALIKE.bytes, key)


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False
)


def fingerprint(kind: str, content: dict[str, Any]) -> str:
    """SHA-256 of the act's content in canonical JSON: same act, same fingerprint."""
    canonical = _CANONICAL.encode({"kind": kind, **content})
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdNumberClaim(Aggregate):
    """The forever claim of one number by one person. A cancelled number's claim stays."""

    def __init__(self, id: UUID) -> None:
        super().__init__(id)
        self.id_number = ""
        self.person_id: UUID | None = None

    @classmethod
    def claim(cls, number: IdNumber, person_id: UUID, basis: ActBasis, on: Any) -> IdNumberClaim:
        claim = cls(claim_id(number))
        claim._trigger(IdNumberClaimed, basis, on, id_number=str(number), person_id=person_id)
        return claim

    @applies(IdNumberClaimed)
    def _claimed(self, e: IdNumberClaimed) -> None:
        self.id_number = e.id_number
        self.person_id = e.person_id


class RecordedAct(Aggregate):
    """One recorded act; a retry of it finds this and reports the existing result."""

    def __init__(self, id: UUID) -> None:
        super().__init__(id)
        self.kind = ""
        self.fingerprint = ""
        self.person_id: UUID | None = None
        #: The household the act set up, if it set one up.
        self.household: str | None = None

    @classmethod
    def record(
        cls,
        kind: str,
        digest: str,
        person_id: UUID,
        basis: ActBasis,
        on: Any,
        household: str | None = None,
    ) -> RecordedAct:
        act = cls(act_id(kind, basis.office, basis.reference))
        act._trigger(
            ActRecorded,
            basis,
            on,
            kind=kind,
            fingerprint=digest,
            person_id=person_id,
            household=household,
        )
        return act

    @applies(ActRecorded)
    def _recorded(self, e: ActRecorded) -> None:
        self.kind = e.kind
        self.fingerprint = e.fingerprint
        self.person_id = e.person_id
        self.household = e.household


class LookAlikeClaim(Aggregate):
    """Every person registered at birth with one folded name, date of birth and birth
    province: noted in the same transaction as the birth, so that a concurrent look-alike
    birth conflicts inside the store instead of passing the possible-duplicate check unseen."""

    def __init__(self, id: UUID) -> None:
        super().__init__(id)
        self.person_ids: list[UUID] = []

    def note(self, person_id: UUID, basis: ActBasis, on: date) -> None:
        self._trigger(LookAlikeNoted, basis, on, person_id=person_id)

    @applies(LookAlikeNoted)
    def _noted(self, e: LookAlikeNoted) -> None:
        self.person_ids = [*self.person_ids, e.person_id]


def draw_number(province: str, sex: Sex, year: int) -> IdNumber:
    """Six random digits from a cryptographic source; never sequential (order must not leak)."""
    return IdNumber.compose(province, sex, year, secrets.randbelow(1_000_000))
