"""Identity cards, electronic identities and identity certificates (Law on Identification 2023).

The values here are pure: what a card carries, when it expires (Art. 21), and what state a
person's identity documents are in (`IdentityFile`). The `Person` aggregate keeps one
`IdentityFile` and changes it only through the `IdentityFile` methods, which the `cards` read
model calls too, so a replayed record and the model never disagree on a card's status.
The articles behind each value are in docs/cards.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Literal, TypeVar

from domain.errors import InvalidInput
from domain.residence import age_on, years_after

C = TypeVar("C", bound=StrEnum)

#: Art. 21(1): a card is renewed at these ages.
RENEWAL_AGES = (14, 25, 40, 60)
#: Art. 21(2): a card issued within this many years before a renewal age runs to the next one.
EARLY_RENEWAL_YEARS = 2
#: Art. 19(1): from this age a citizen must hold a card; under it, a card only on request.
MANDATORY_AGE = 14


class CardReason(StrEnum):
    """Why a card is issued: first issue (Art. 19), renewal (Art. 24(1)), re-issue (Art. 24(2))."""

    FIRST = "first"
    AGE = "age"
    DATA_CHANGE = "data_change"
    NUMBER_REISSUED = "number_reissued"
    LOST = "lost"
    DAMAGED = "damaged"
    NATIONALITY_REGAINED = "nationality_regained"
    REQUEST = "request"


class RevocationGround(StrEnum):
    """Art. 29(1)."""

    LOST_NATIONALITY = "lost_nationality"
    ISSUED_WRONGLY = "issued_wrongly"
    TAMPERED = "tampered"


class WithholdingGround(StrEnum):
    """Art. 29(2)."""

    CUSTODY = "custody"
    DETENTION = "detention"
    PRISON = "prison"
    REFORM_SCHOOL = "reform_school"
    REHABILITATION = "rehabilitation"


class EidLockGround(StrEnum):
    """Art. 34: the causes that lock an electronic identity."""

    REQUEST = "request"
    TERMS_BREACH = "terms_breach"
    CARD_REVOKED = "card_revoked"
    CARD_WITHHELD = "card_withheld"
    DEATH = "death"
    AUTHORITY = "authority"


#: Lock grounds that follow from another fact of the record: a clerk may name them only while
#: that fact holds, and the lock ends only with it.
EID_LOCKS_BY_FACT = frozenset(
    {EidLockGround.CARD_REVOKED, EidLockGround.CARD_WITHHELD, EidLockGround.DEATH}
)


class CertificateReason(StrEnum):
    """Why an identity certificate is issued (Art. 30): first, changed data, lost or damaged."""

    FIRST = "first"
    DATA_CHANGE = "data_change"
    LOST = "lost"
    DAMAGED = "damaged"


class CertificateRevocationGround(StrEnum):
    """Why an identity certificate ends: the holder's nationality was determined, or the
    certificate was issued wrongly or tampered with."""

    NATIONALITY_DETERMINED = "nationality_determined"
    ISSUED_WRONGLY = "issued_wrongly"
    TAMPERED = "tampered"


def parse_choice(choices: type[C], text: str, what: str) -> C:
    """`text` as one of `choices`, or `InvalidInput` naming them all."""
    value = text.strip().lower() if isinstance(text, str) else text
    try:
        return choices(value)
    except ValueError:
        names = ", ".join(choice.value for choice in choices)
        raise InvalidInput(f"{what} must be one of {names}, got {text!r}") from None


def card_expiry(born: date, issued_on: date) -> date | None:
    """The last day a card issued on `issued_on` is valid (Art. 21): the day before the next
    renewal age, or before the one after it when the card is issued within two years of the
    next; None when no renewal age is left (a card issued at 58 or later)."""
    age = age_on(born, issued_on)
    ahead = [limit for limit in RENEWAL_AGES if limit > age]
    if ahead and age >= ahead[0] - EARLY_RENEWAL_YEARS:
        ahead = ahead[1:]
    if not ahead:
        return None
    return years_after(born, ahead[0]) - timedelta(days=1)


def age_renewal_opens(expires_on: date) -> date:
    """The first day a card expiring on `expires_on` may be renewed for age: two years before
    the renewal age it expires at (a card issued then runs to the next age, Art. 21(2))."""
    return years_after(expires_on + timedelta(days=1), -EARLY_RENEWAL_YEARS)


CardStatus = Literal[
    "valid", "expired", "renewal_due", "revoked", "withheld", "holder_deceased", "none"
]
CARD_STATUSES: tuple[CardStatus, ...] = (
    "valid",
    "expired",
    "renewal_due",
    "revoked",
    "withheld",
    "holder_deceased",
    "none",
)


@dataclass(frozen=True)
class CardData:
    """What a card carries of the record: its number, name, date of birth and sex."""

    id_number: str | None
    name: str
    born: date
    sex: str


@dataclass(frozen=True)
class Card:
    """One card, as issued, and how it ended (replaced by a later card, or revoked)."""

    issued_on: date
    expires_on: date | None
    reason: str
    data: CardData
    ended_on: date | None = None
    ended_by: str | None = None
    revoked: str | None = None

    def document(self) -> dict[str, Any]:
        return {
            "id_number": self.data.id_number,
            "name": self.data.name,
            "born": self.data.born.isoformat(),
            "sex": self.data.sex,
            "issued_on": self.issued_on.isoformat(),
            "expires_on": self.expires_on.isoformat() if self.expires_on else None,
            "reason": self.reason,
            "ended_on": self.ended_on.isoformat() if self.ended_on else None,
            "ended_by": self.ended_by,
            "revocation_ground": self.revoked,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Card:
        return cls(
            issued_on=date.fromisoformat(doc["issued_on"]),
            expires_on=date.fromisoformat(doc["expires_on"]) if doc["expires_on"] else None,
            reason=doc["reason"],
            data=CardData(
                doc["id_number"], doc["name"], date.fromisoformat(doc["born"]), doc["sex"]
            ),
            ended_on=date.fromisoformat(doc["ended_on"]) if doc["ended_on"] else None,
            ended_by=doc["ended_by"],
            revoked=doc["revocation_ground"],
        )


@dataclass(frozen=True)
class Eid:
    """The electronic identity: active, or locked on a ground of Art. 34."""

    created_on: date
    locked: str | None = None
    since: date | None = None

    def document(self) -> dict[str, Any]:
        return {
            "status": "locked" if self.locked else "active",
            "ground": self.locked,
            "created_on": self.created_on.isoformat(),
            "since": (self.since or self.created_on).isoformat(),
        }


@dataclass(frozen=True)
class Certificate:
    """An identity certificate (giấy chứng nhận căn cước, Art. 30)."""

    issued_on: date
    reason: str
    name: str
    born: date
    sex: str
    ended_on: date | None = None
    ended_by: str | None = None

    def document(self) -> dict[str, Any]:
        return {
            "issued_on": self.issued_on.isoformat(),
            "reason": self.reason,
            "name": self.name,
            "born": self.born.isoformat(),
            "sex": self.sex,
            "ended_on": self.ended_on.isoformat() if self.ended_on else None,
            "ended_by": self.ended_by,
        }


@dataclass(frozen=True)
class Holder:
    """What a card's status reads of the record on the day asked about."""

    data: CardData
    died_on: date | None
    merged: bool


@dataclass(frozen=True)
class IdentityFile:
    """A person's identity documents: cards oldest first, withholding, eid, certificates.

    Each method returns the file after one fact; none checks a rule (the aggregate does,
    before the event). `data_changed_on` is when the record last stopped matching the
    current card, so that `cards due` can say since when a renewal is owed."""

    cards: tuple[Card, ...] = ()
    withheld: str | None = None
    withheld_on: date | None = None
    eid: Eid | None = None
    certificates: tuple[Certificate, ...] = ()
    data_changed_on: date | None = None
    #: The latest legal date of a card, eid or certificate act: they follow one another.
    latest_on: date | None = None

    # ------------------------------------------------------------------ queries

    @property
    def card(self) -> Card | None:
        """The latest card (current unless revoked)."""
        return self.cards[-1] if self.cards else None

    @property
    def certificate(self) -> Certificate | None:
        latest = self.certificates[-1] if self.certificates else None
        return latest if latest is not None and latest.ended_on is None else None

    def status(self, holder: Holder, on: date) -> CardStatus:
        """The card's status on `on`, for a holder as the record stands on that day: the first
        that holds of deceased, revoked, withheld, expired, renewal due; else valid."""
        card = self.card
        if card is None:
            return "none"
        checks: tuple[tuple[bool, CardStatus], ...] = (
            (holder.died_on is not None and holder.died_on <= on, "holder_deceased"),
            (card.revoked is not None, "revoked"),
            (self.withheld is not None, "withheld"),
            (card.expires_on is not None and on > card.expires_on, "expired"),
            (card.data != holder.data, "renewal_due"),
        )
        return next((status for holds, status in checks if holds), "valid")

    def mismatch(self, holder: Holder) -> str | None:
        """Why the current card no longer matches the record: `number_reissued` when its
        number differs, `data_change` when its name, date of birth or sex does."""
        card = self.card
        if card is None:
            return None
        if card.data.id_number != holder.data.id_number:
            return "number_reissued"
        if card.data != holder.data:
            return "data_change"
        return None

    def renewal_due(self, holder: Holder) -> tuple[date, str] | None:
        """When and why the holder must renew: the card's expiry (`age`), or the day the
        record stopped matching it, whichever comes first. None for no card, a revoked or
        withheld one, or a holder who died or was merged."""
        card = self.card
        if card is None or card.revoked or self.withheld or holder.died_on or holder.merged:
            return None
        owed: list[tuple[date, str]] = []
        if card.expires_on is not None:
            owed.append((card.expires_on, "age"))
        why = self.mismatch(holder)
        if why is not None:
            owed.append((self.data_changed_on or card.issued_on, why))
        return min(owed) if owed else None

    def document(self, holder: Holder, on: date, *, with_cards: bool = True) -> dict[str, Any]:
        """The `card show` document on `on` (without `cards`: the `card` key of `show`)."""
        card = self.card
        document: dict[str, Any] = {
            "id_number": holder.data.id_number,
            "status": self.status(holder, on),
            "issued_on": card.issued_on.isoformat() if card else None,
            "expires_on": card.expires_on.isoformat() if card and card.expires_on else None,
            "reason": card.reason if card else None,
            "withheld": self.withheld,
        }
        if with_cards:
            document["cards"] = [each.document() for each in reversed(self.cards)]
        return document

    def eid_document(self) -> dict[str, Any] | None:
        return self.eid.document() if self.eid else None

    # -------------------------------------------------------------------- facts

    def issued(self, card: Card) -> IdentityFile:
        cards = self.cards
        if cards and cards[-1].ended_on is None:
            cards = (*cards[:-1], replace(cards[-1], ended_on=card.issued_on, ended_by="replaced"))
        return replace(
            self,
            cards=(*cards, card),
            data_changed_on=None,
            latest_on=self._later(card.issued_on),
        )

    def revoked(self, ground: str, on: date) -> IdentityFile:
        card = self.cards[-1]
        ended = replace(card, ended_on=on, ended_by="revoked", revoked=ground)
        return replace(
            self,
            cards=(*self.cards[:-1], ended),
            withheld=None,
            withheld_on=None,
            latest_on=self._later(on),
        )

    def withheld_for(self, ground: str, on: date) -> IdentityFile:
        return replace(self, withheld=ground, withheld_on=on, latest_on=self._later(on))

    def returned(self, on: date) -> IdentityFile:
        return replace(self, withheld=None, withheld_on=None, latest_on=self._later(on))

    def eid_created(self, on: date) -> IdentityFile:
        return replace(self, eid=Eid(on), latest_on=self._later(on))

    def eid_locked(self, ground: str, on: date) -> IdentityFile:
        assert self.eid is not None  # noqa: S101 (a lock follows a creation)
        return replace(self, eid=replace(self.eid, locked=ground, since=on))

    def eid_unlocked(self, on: date) -> IdentityFile:
        assert self.eid is not None  # noqa: S101 (an unlock follows a lock)
        return replace(
            self, eid=replace(self.eid, locked=None, since=on), latest_on=self._later(on)
        )

    def certificate_issued(self, certificate: Certificate) -> IdentityFile:
        certificates = self.certificates
        if certificates and certificates[-1].ended_on is None:
            last = replace(certificates[-1], ended_on=certificate.issued_on, ended_by="replaced")
            certificates = (*certificates[:-1], last)
        return replace(
            self,
            certificates=(*certificates, certificate),
            latest_on=self._later(certificate.issued_on),
        )

    def certificate_revoked(self, ground: str, on: date) -> IdentityFile:
        last = replace(self.certificates[-1], ended_on=on, ended_by=ground)
        return replace(self, certificates=(*self.certificates[:-1], last))

    def record_changed(self, on: date) -> IdentityFile:
        """The record's name, date of birth, sex or number changed on `on`."""
        if self.card is None or self.data_changed_on is not None:
            return self
        return replace(self, data_changed_on=on)

    def _later(self, on: date) -> date:
        return on if self.latest_on is None or on > self.latest_on else self.latest_on

    # ------------------------------------------------------------ serialising

    def to_document(self) -> dict[str, Any]:
        """The whole file as plain JSON values (the `cards` read model keeps it so);
        `from_document` gives back an equal file."""
        return {
            "cards": [card.document() for card in self.cards],
            "withheld": self.withheld,
            "withheld_on": _day(self.withheld_on),
            "eid": _eid_state(self.eid),
            "certificates": [each.document() for each in self.certificates],
            "data_changed_on": _day(self.data_changed_on),
            "latest_on": _day(self.latest_on),
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> IdentityFile:
        eid = doc["eid"]
        return cls(
            cards=tuple(Card.from_document(each) for each in doc["cards"]),
            withheld=doc["withheld"],
            withheld_on=_parse_day(doc["withheld_on"]),
            eid=Eid(date.fromisoformat(eid["created_on"]), eid["locked"], _parse_day(eid["since"]))
            if eid is not None
            else None,
            certificates=tuple(_certificate(each) for each in doc["certificates"]),
            data_changed_on=_parse_day(doc["data_changed_on"]),
            latest_on=_parse_day(doc["latest_on"]),
        )


def _day(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _parse_day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text is not None else None


def _eid_state(eid: Eid | None) -> dict[str, Any] | None:
    """The eid's fields as they are (its `document()` fills in `since` for people)."""
    if eid is None:
        return None
    return {
        "created_on": eid.created_on.isoformat(),
        "locked": eid.locked,
        "since": _day(eid.since),
    }


def _certificate(doc: dict[str, Any]) -> Certificate:
    return Certificate(
        issued_on=date.fromisoformat(doc["issued_on"]),
        reason=doc["reason"],
        name=doc["name"],
        born=date.fromisoformat(doc["born"]),
        sex=doc["sex"],
        ended_on=_parse_day(doc["ended_on"]),
        ended_by=doc["ended_by"],
    )
