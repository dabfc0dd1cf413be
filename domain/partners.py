"""Partner agencies and what each may learn: scopes, the fields a look-up may return, and the
shape of an answer that reveals nothing beyond its verdict.

A partner (the public service portal, social insurance, a bank) calls the verification service
with a key. Its policy names the operations it may call (`Scope`), the fields of a person a
look-up returns to it, and its rate. These are rules about disclosure, so they live here, apart
from the HTTP layer that applies them and the store that keeps the policies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.errors import InvalidInput, RuleBroken


class PartnerExists(RuleBroken):
    """A partner of that name is already on record (exit 3): rotate its key instead."""


class UnknownPartner(InvalidInput):
    """No partner of that name (exit 2)."""


class Scope(StrEnum):
    """An operation a partner may call."""

    VERIFY = "verify"
    HOUSEHOLD = "household"
    LOOKUP = "lookup"
    ACCESS_LOG = "access-log"


class Operation(StrEnum):
    """What a request did, as the access log names it."""

    VERIFY = "verify"
    VERIFY_HOUSEHOLD_HEAD = "verify-household-head"
    LOOKUP = "lookup"
    ACCESS_LOG = "access-log"


class Outcome(StrEnum):
    """How a request that named a person ended, as the access log records it."""

    MATCH = "match"
    NO_MATCH = "no-match"
    FOUND = "found"
    NOT_FOUND = "not-found"
    SHOWN = "shown"
    REFUSED = "refused"  # the partner's policy does not allow the operation


#: The scope each operation needs.
SCOPE_OF: dict[Operation, Scope] = {
    Operation.VERIFY: Scope.VERIFY,
    Operation.VERIFY_HOUSEHOLD_HEAD: Scope.HOUSEHOLD,
    Operation.LOOKUP: Scope.LOOKUP,
    Operation.ACCESS_LOG: Scope.ACCESS_LOG,
}

#: The fields of a person a look-up may ever return (a policy picks among them). Internal
#: identifiers (the person's UUID, its parents', the record's version) are never disclosed.
LOOKUP_FIELDS: tuple[str, ...] = (
    "id_number",
    "name",
    "sex",
    "born",
    "birth_province",
    "nationality",
    "status",
    "died_on",
    "renounced_on",
    "merged_into",
    "ethnicity",
    "place_of_birth",
    "registered_on",
)

#: The statuses a matching verification reports.
STATUSES: tuple[str, ...] = ("active", "cancelled", "deceased", "renounced", "merged")

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
#: Longest purpose a request may state (characters).
PURPOSE_MAX = 200
#: Highest rate a policy may set (requests per second).
RATE_MAX = 100_000


def partner_name(text: str) -> str:
    """A partner's name: lower-case ASCII letters, digits, `_`, `.`, `-`; 1 to 63, starting
    with a letter or digit (it appears in every access-log entry, so it is kept plain)."""
    if not _NAME.fullmatch(text):
        raise InvalidInput(
            f"partner name {text!r}: use 1 to 63 lower-case letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return text


def parse_scopes(text: str) -> frozenset[Scope]:
    """`verify,household,...`: at least one known scope."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise InvalidInput("--scopes needs at least one of " + ", ".join(s.value for s in Scope))
    scopes = set()
    for name in names:
        try:
            scopes.add(Scope(name))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise InvalidInput(f"unknown scope {name!r}; known: {known}") from None
    return frozenset(scopes)


def parse_fields(text: str | None) -> tuple[str, ...]:
    """The look-up fields of a policy, in the order of `LOOKUP_FIELDS` (none by default)."""
    if text is None:
        return ()
    names = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(names - set(LOOKUP_FIELDS))
    if unknown:
        raise InvalidInput(
            f"unknown field {unknown[0]!r}; a look-up may return: {', '.join(LOOKUP_FIELDS)}"
        )
    return tuple(f for f in LOOKUP_FIELDS if f in names)


def purpose_text(text: str) -> str:
    """A request's stated purpose: printable text, 1 to `PURPOSE_MAX` characters."""
    cleaned = " ".join(text.split())
    if not cleaned or len(cleaned) > PURPOSE_MAX or not cleaned.isprintable():
        raise InvalidInput(f"purpose: 1 to {PURPOSE_MAX} printable characters")
    return cleaned


@dataclass(frozen=True)
class PartnerPolicy:
    """What one partner may do: its scopes, the fields a look-up returns, its rate (requests
    per second; None: unlimited)."""

    name: str
    scopes: frozenset[Scope]
    fields: tuple[str, ...] = ()
    rate: int | None = None

    def __post_init__(self) -> None:
        partner_name(self.name)
        if self.fields and Scope.LOOKUP not in self.scopes:
            raise InvalidInput("--fields only matter with the lookup scope")
        if Scope.LOOKUP in self.scopes and not self.fields:
            raise InvalidInput("the lookup scope needs --fields: what a look-up may return")
        if self.rate is not None and not 1 <= self.rate <= RATE_MAX:
            raise InvalidInput(f"--rate: 1 to {RATE_MAX} requests per second")

    def allows(self, operation: Operation) -> bool:
        return SCOPE_OF[operation] in self.scopes

    def disclose(self, person: Mapping[str, Any]) -> dict[str, Any]:
        """Of a person's document, only the fields this policy lists."""
        return {field: person.get(field) for field in self.fields}

    def as_document(self) -> dict[str, Any]:
        return {
            "partner": self.name,
            "scopes": sorted(s.value for s in self.scopes),
            "fields": list(self.fields),
            "rate": self.rate,
        }


def verification_answer(match: bool, status: str, transaction: str) -> dict[str, Any]:
    """The answer to a verification: a mismatch says only that it does not match (never which
    field, never the recorded values, never whether the number exists); a match adds the
    status."""
    if not match:
        return {"match": False, "transaction": transaction}
    return {"match": True, "transaction": transaction, "status": status}


def sorted_scopes(scopes: Iterable[Scope]) -> str:
    return ",".join(sorted(s.value for s in scopes))
