"""The personal ID number: PPP C YY NNNNNN (DOMAIN.md)."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput
from domain.values import IdNumber, Sex, century_sex_digit, parse_person_ref


@pytest.mark.parametrize(
    ("sex", "year", "digit"),
    [
        (Sex.MALE, 1900, 0),
        (Sex.FEMALE, 1999, 1),
        (Sex.MALE, 2000, 2),
        (Sex.FEMALE, 2099, 3),
        (Sex.MALE, 2100, 4),
        (Sex.FEMALE, 2150, 5),
        (Sex.MALE, 2299, 6),
        (Sex.FEMALE, 2200, 7),
        (Sex.MALE, 2300, 8),
        (Sex.FEMALE, 2399, 9),
    ],
)
def test_century_and_sex_digit_follows_the_table(sex: Sex, year: int, digit: int) -> None:
    assert century_sex_digit(sex, year) == digit


def test_a_hanoi_woman_born_1985_gets_001_1_85() -> None:
    number = IdNumber.compose("001", Sex.FEMALE, 1985, 42)
    assert str(number) == "001185000042"


def test_decoding_gives_back_province_sex_and_year() -> None:
    number = IdNumber.parse("079203123456")
    assert number.province == "079"
    assert number.sex is Sex.MALE
    assert number.year == 2003
    assert number.serial == 123456


def test_no_century_code_before_1900() -> None:
    with pytest.raises(InvalidInput, match="1899"):
        century_sex_digit(Sex.MALE, 1899)


@pytest.mark.parametrize("text", ["00118500004", "0011850000421", "00118500004x", ""])
def test_an_id_number_has_exactly_twelve_digits(text: str) -> None:
    with pytest.raises(InvalidInput, match="12 digits"):
        IdNumber.parse(text)


def test_an_unknown_province_code_is_refused() -> None:
    with pytest.raises(InvalidInput, match="003"):
        IdNumber.parse("003185000042")


def test_a_person_reference_is_a_number_or_a_uuid() -> None:
    assert isinstance(parse_person_ref("001185000042"), IdNumber)
    ref = parse_person_ref("123e4567-e89b-12d3-a456-426614174000")
    assert str(ref) == "123e4567-e89b-12d3-a456-426614174000"
    with pytest.raises(InvalidInput):
        parse_person_ref("nguyen")
