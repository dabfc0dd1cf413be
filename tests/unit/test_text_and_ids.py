"""Text that hides what it says, and ID numbers in other scripts' digits (issue 13, item 2).

What a text field may hold is decided once, in `domain.values.clean_text`; what an ID is, in
`parse_person_ref` and `IdNumber.parse_structure`. These tests pin both down.
"""

from __future__ import annotations

import sys
import unicodedata
from uuid import UUID

import pytest

from domain.commands import Clerking, RecordDeath, RegisterBirth
from domain.errors import InvalidInput
from domain.values import (
    IdNumber,
    clean_text,
    counted,
    parse_date,
    parse_person_ref,
    parse_province,
    visible,
)

#: Default-ignorable code points (DerivedCoreProperties.txt) outside categories Cc, Cf and
#: Cs, and the format characters Unicode 15 added after Python 3.11's Unicode 14: refused too.
EXTRA_REFUSED = {
    0x034F,  # COMBINING GRAPHEME JOINER
    0x115F,  # HANGUL CHOSEONG FILLER
    0x1160,
    0x17B4,  # KHMER VOWEL INHERENT AQ
    0x17B5,
    0x180B,  # MONGOLIAN FREE VARIATION SELECTOR ONE
    0x180C,
    0x180D,
    0x180F,
    0x2065,
    0x3164,  # HANGUL FILLER
    0xFFA0,  # HALFWIDTH HANGUL FILLER
    *range(0xFE00, 0xFE10),  # VARIATION SELECTOR-1..16
    *range(0xFFF0, 0xFFF9),
    *range(0xE0000, 0xE1000),  # tags, variation selectors 17..256, reserved
    *range(0x13439, 0x13440),  # Egyptian hieroglyph format controls of Unicode 15
}


def _refused(char: str) -> bool:
    try:
        clean_text(f"An{char}Bình", "name")
    except InvalidInput:
        return True
    return False


def test_every_format_control_or_ignorable_character_is_refused_and_nothing_else() -> None:
    """The character class is checked against the Unicode database, code point by code point:
    every Cc, Cf and Cs character and every other default-ignorable one is refused; every
    other character (letters, marks, digits, punctuation, symbols) is kept."""
    wrong = []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char.isspace():
            continue  # collapsed into one space, never stored
        expected = unicodedata.category(char) in ("Cc", "Cf", "Cs") or code in EXTRA_REFUSED
        if _refused(char) != expected:
            wrong.append(f"U+{code:04X}")
    assert wrong == []


@pytest.mark.parametrize(
    ("char", "named"),
    [
        ("\u200b", "U+200B ZERO WIDTH SPACE"),
        ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u2067", "U+2067 RIGHT-TO-LEFT ISOLATE"),
        ("\u200d", "U+200D ZERO WIDTH JOINER"),
        ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("\u00ad", "U+00AD SOFT HYPHEN"),
        ("\ufe0f", "U+FE0F VARIATION SELECTOR-16"),
    ],
)
def test_the_message_names_the_field_and_the_character(char: str, named: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_text(f"Nguyễn{char} Văn An", "place of birth")
    assert refused.value.message == (
        f"place of birth contains an invisible or direction-changing character ({named})"
    )


def test_controls_and_text_that_was_not_utf8_are_named_as_such() -> None:
    with pytest.raises(InvalidInput, match=r"name contains a control character \(U\+0007\)"):
        clean_text("An\x07", "name")
    with pytest.raises(InvalidInput, match=r"not text \(U\+DCFF: the input was not UTF-8\)"):
        clean_text("An\udcff", "name")  # how Python decodes an argument that is not UTF-8


def test_vietnamese_names_and_ordinary_punctuation_are_kept() -> None:
    for name in ("Nguyễn Văn An", "Đỗ Thị Ánh-Hồng", "O'Neil Trần", "Phạm (Hoa) Thị", "Lê  Văn"):
        assert clean_text(name, "name") == " ".join(name.split())
    assert clean_text("Lê\u00a0Văn\u3000Tư", "name") == "Lê Văn Tư"  # spaces of other widths


@pytest.mark.parametrize(
    "field", ["name", "ethnicity", "place_of_birth"], ids=lambda field: f"birth-{field}"
)
def test_every_text_field_of_a_birth_refuses_them(field: str) -> None:
    raw = {"name": "Nguyễn An", "sex": "male", "born": "1990-01-01", "province": "001"}
    raw[field] = "Nguyễn\u200b An"
    with pytest.raises(InvalidInput, match=field.replace("_", " ") + " contains an invisible"):
        RegisterBirth.parse(**raw)


@pytest.mark.parametrize("field", ["clerk", "office", "reference"])
def test_every_text_field_of_the_clerking_refuses_them(field: str) -> None:
    raw = {"clerk": "Lê Thị Lan", "office": "HN-BADINH", "reference": "KS-1"}
    raw[field] = f"\u202e{raw[field]}"
    with pytest.raises(InvalidInput, match=f"{field} contains an invisible"):
        Clerking.parse(**raw)


def test_a_place_of_death_refuses_them() -> None:
    with pytest.raises(InvalidInput, match="place contains an invisible"):
        RecordDeath.parse(person="001090000001", died_on="2020-01-01", place="Hà\u2066 Nội")


def test_text_recorded_before_is_printed_visibly() -> None:
    assert visible("An\u202eBình\u200b") == "An<U+202E>Bình<U+200B>"
    assert visible("Nguyễn Văn An") == "Nguyễn Văn An"


# ------------------------------------------------------------------------------ ID numbers

FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + d) for d in range(10)))


@pytest.mark.parametrize(
    "text",
    [
        "00109000000\uff11",  # a full-width last digit: once read as 001090000001
        "\uff1001090000001",  # a full-width first digit: once an unknown number (exit 4)
        "001090000001".translate(FULL_WIDTH),
        "001090000001".translate(ARABIC_INDIC),
        "00109000000\u00b9",  # a superscript one
        "0010900000 1",
    ],
)
def test_an_id_number_is_twelve_ascii_digits(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"exactly 12 digits \(0-9\)|12-digit ID number"):
        parse_person_ref(text)
    with pytest.raises(InvalidInput):
        IdNumber.parse_structure(text)
    with pytest.raises(InvalidInput):
        RecordDeath.parse(person=text, died_on="2020-01-01")


@pytest.mark.parametrize(
    "text",
    [
        "\uff11c035a4b-90a3-54e1-8419-75bb4081ee86",  # int() and UUID() take full-width digits
        "1c035a4b-90a3-54e1-8419-75bb4081ee8_",
        "{1c035a4b-90a3-54e1-8419-75bb4081ee86}",
        "urn:uuid:1c035a4b-90a3-54e1-8419-75bb4081ee86",
        "1c035a4b-90a3-54e1-8419-75bb4081ee8",
    ],
)
def test_a_person_uuid_is_hexadecimal_ascii(text: str) -> None:
    with pytest.raises(InvalidInput, match="12-digit ID number or a person UUID"):
        parse_person_ref(text)


def test_ascii_ids_are_read_as_before() -> None:
    person = UUID("1c035a4b-90a3-54e1-8419-75bb4081ee86")
    assert parse_person_ref(" 001090000001 ") == IdNumber("001", 0, 90, 1)
    assert parse_person_ref(str(person)) == person
    assert parse_person_ref(str(person).upper()) == person
    assert parse_person_ref(person.hex) == person


def test_province_codes_and_dates_are_ascii_digits_too() -> None:
    with pytest.raises(InvalidInput, match="three-digit code"):
        parse_province("\uff10\uff10\uff11")
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        parse_date("2020-01-01".translate(FULL_WIDTH))


def test_counts_are_singular_for_one() -> None:
    assert counted(1, "event") == "1 event"
    assert counted(0, "event") == "0 events"
    assert counted(2, "person", "people") == "2 people"
