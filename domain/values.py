"""Value objects of the register: sex, nationality, names, dates and the personal ID number."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from functools import lru_cache
from typing import Protocol
from uuid import UUID

from domain.errors import InvalidInput
from domain.reference import REFERENCE, ReferenceData

#: The register keeps Vietnam's civil date: "today" is the date in Indochina Time (UTC+7).
REGISTER_TIMEZONE = timezone(timedelta(hours=7), "ICT")

#: There is no century code for births before 1900 (DOMAIN: the century-and-sex digit).
FIRST_YEAR = 1900
LAST_YEAR = 2399


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


class Nationality(StrEnum):
    VIETNAMESE = "vietnamese"
    UNDETERMINED = "undetermined"
    STATELESS = "stateless"
    #: Vietnamese nationality ended by renunciation; set only by `NationalityRenounced`,
    #: never accepted as input (the register does not record the nationality held since).
    RENOUNCED = "renounced"


#: The nationalities a clerk may enter (registration, change of record).
ENTERED_NATIONALITIES = (Nationality.VIETNAMESE, Nationality.UNDETERMINED, Nationality.STATELESS)


class Clock(Protocol):
    """Where the register reads the time. Tests pass a fixed clock."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def civil_date(moment: datetime) -> date:
    """The register's civil date (Indochina Time) at `moment`."""
    return moment.astimezone(REGISTER_TIMEZONE).date()


def today_of(clock: Clock) -> date:
    """The civil date of the register (Indochina Time) at the clock's current instant."""
    return civil_date(clock.now())


def parse_date(text: str, what: str = "date") -> date:
    """Parse an ISO date (YYYY-MM-DD); anything else is bad input."""
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text.strip()):
            raise ValueError(text)
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} must be a date as YYYY-MM-DD, got {text!r}") from None


def parse_timestamp(text: str, what: str = "timestamp") -> datetime:
    """Parse an ISO 8601 timestamp; a naive time (or a bare date) means UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{what} must be an ISO 8601 timestamp, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


#: What no text field may hold, as one character class (a regex is ~20x faster than asking
#: `unicodedata.category()` per character, which bulk imports feel):
#: - control characters (Unicode category Cc);
#: - format characters (category Cf, Unicode 15): the soft hyphen, zero-width space, joiners
#:   and non-joiners, the byte-order mark, bidirectional marks, embeddings, overrides and
#:   isolates, invisible operators, tags, ...: they hide what a text says, or reorder it;
#: - the other default-ignorable code points (DerivedCoreProperties.txt), which no font draws:
#:   the combining grapheme joiner, Hangul fillers, variation selectors, ...;
#: - lone surrogates, which no UTF-8 text holds (an argument that was not UTF-8).
#: `tests/unit/test_text_and_ids.py` checks the class against `unicodedata`, code point by code
#: point.
_NOT_TEXT = re.compile(
    "["
    "\x00-\x1f\x7f-\x9f"  # Cc
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"  # Cf
    "\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u180f\u2065\u3164\ufe00-\ufe0f"
    "\uffa0\ufff0-\ufff8\U000e0000-\U000e0fff"  # other default-ignorable code points
    "\ud800-\udfff"  # surrogates
    "]"
)


def clean_text(text: str, what: str, max_length: int = 200) -> str:
    """NFC-normalise, trim and collapse inner spaces; empty or over-long text is bad input, and
    so is text holding a control, format (invisible or direction-changing) or other
    default-ignorable character, named by its code point."""
    cleaned = text if text.isascii() else unicodedata.normalize("NFC", text)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise InvalidInput(f"{what} must not be empty")
    if len(cleaned) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters")
    found = _NOT_TEXT.search(cleaned)
    if found:
        raise InvalidInput(f"{what} contains {describe_character(found.group())}")
    return cleaned


def visible(text: str) -> str:
    """`text` for a terminal, with what `clean_text` refuses shown as `<U+202E>`: text
    recorded before a character was refused must not reorder or hide a line when printed."""
    return _NOT_TEXT.sub(lambda found: f"<U+{ord(found.group()):04X}>", text)


def describe_character(char: str) -> str:
    """`a control character (U+0007)`, `an invisible or direction-changing character (U+202E
    RIGHT-TO-LEFT OVERRIDE)`: what a clerk needs to find it, which no terminal shows."""
    code = f"U+{ord(char):04X}"
    name = unicodedata.name(char, "")
    where = f"{code} {name}" if name else code
    category = unicodedata.category(char)
    if category == "Cc":
        return f"a control character ({where})"
    if category == "Cs":
        return f"a character that is not text ({where}: the input was not UTF-8)"
    return f"an invisible or direction-changing character ({where})"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 event`, `2 events`, `0 events`; `plural` when it is not the noun and an `s`."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def fold_name(name: str) -> str:
    """Lower case with Vietnamese diacritics folded (đ to d): `Nguyễn Văn An` -> `nguyen van an`."""
    lowered = unicodedata.normalize("NFC", name).lower().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", lowered)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.split())


def parse_sex(text: str) -> Sex:
    try:
        return Sex(text.strip().lower())
    except ValueError:
        raise InvalidInput(f"sex must be 'male' or 'female', got {text!r}") from None


def parse_nationality(text: str) -> Nationality:
    choices = {n.value: n for n in ENTERED_NATIONALITIES}
    found = choices.get(text.strip().lower())
    if found is None:
        raise InvalidInput(f"nationality must be one of {', '.join(choices)}, got {text!r}")
    return found


def parse_province(text: str, reference: ReferenceData = REFERENCE) -> str:
    """A three-digit code of a province (any table version) or a configured abroad code."""
    code = text.strip()
    if not re.fullmatch(r"[0-9]{3}", code):
        raise InvalidInput(f"province must be a three-digit code such as 001, got {text!r}")
    if not reference.is_registration_code(code):
        raise InvalidInput(f"{code} is not a province code (Circular 59/2021, Annex I)")
    return code


def century_sex_digit(sex: Sex, year: int) -> int:
    """The `C` digit: even for male, odd for female, one pair per century from 1900."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(f"year {year} has no century code (1900-2399 only)")
    return (year // 100 - 19) * 2 + (1 if sex is Sex.FEMALE else 0)


_ID_DIGITS = re.compile("[0-9]{12}")
#: A person UUID as `UUID()` prints it (any case), or its 32 hex digits alone.
_UUID_TEXT = re.compile(
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32}"
)


@dataclass(frozen=True, order=True)
class IdNumber:
    """A personal ID number `PPP C YY NNNNNN`: 12 digits, no check digit."""

    province: str
    century_sex: int
    yy: int
    serial: int

    @classmethod
    def parse(cls, text: str, reference: ReferenceData = REFERENCE) -> IdNumber:
        """A number to issue or to take in: its code must be a province or abroad code of
        the current reference data."""
        number = cls.parse_structure(text)
        if not reference.is_registration_code(number.province):
            raise InvalidInput(
                f"ID number {number} starts with {number.province}, not a province code"
            )
        return number

    @classmethod
    def parse_structure(cls, text: str) -> IdNumber:
        """A number to look up: only its structure (12 digits, whose century-and-sex digit
        always decodes) is checked. Numbers already issued keep their codes even after the
        province table or `CIVLEDGER_ABROAD_CODES` changes, so the code is not checked here."""
        digits = text.strip()
        if not _ID_DIGITS.fullmatch(digits):
            raise InvalidInput(f"an ID number has exactly 12 digits (0-9), got {text!r}")
        return cls(digits[:3], int(digits[3]), int(digits[4:6]), int(digits[6:]))

    @classmethod
    def compose(cls, province: str, sex: Sex, year: int, serial: int) -> IdNumber:
        if not 0 <= serial < 1_000_000:
            raise ValueError(f"serial {serial} is not six digits")
        return cls(province, century_sex_digit(sex, year), year % 100, serial)

    @property
    def sex(self) -> Sex:
        return Sex.MALE if self.century_sex % 2 == 0 else Sex.FEMALE

    @property
    def year(self) -> int:
        return (self.century_sex // 2 + 19) * 100 + self.yy

    @property
    def bucket(self) -> tuple[str, int, int]:
        """The (province, century-and-sex, year) bucket; each holds 10^6 numbers."""
        return (self.province, self.century_sex, self.yy)

    def __str__(self) -> str:
        return f"{self.province}{self.century_sex}{self.yy:02d}{self.serial:06d}"


PersonRef = IdNumber | UUID


@lru_cache(maxsize=16384)  # an import names each parent once per child, and again deciding
def parse_person_ref(text: str) -> PersonRef:
    """A CLI `ID`: a 12-digit personal ID number (current or cancelled) or a person's UUID.

    Only ASCII is read: `str.isdigit()`, `int()` and `UUID()` also take other scripts' digits
    (full-width U+FF10, Arabic-Indic U+0660), which would make a number read as another one."""
    candidate = text.strip()
    if candidate.isdigit():  # any script's digits: an ID number, or a malformed one
        return IdNumber.parse_structure(candidate)
    try:
        if not _UUID_TEXT.fullmatch(candidate):
            raise ValueError(candidate)
        return UUID(candidate)
    except ValueError:
        raise InvalidInput(
            f"ID must be a 12-digit ID number or a person UUID, got {text!r}"
        ) from None
