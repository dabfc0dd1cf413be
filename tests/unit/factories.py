"""Memorable test data: a few people of Hà Nội and Hồ Chí Minh City."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

from domain.aggregate import ActBasis
from domain.person import Person
from domain.values import IdNumber, Nationality, Sex

TODAY = date(2026, 6, 1)
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def basis(reference: str = "KS-2026-0001") -> ActBasis:
    return ActBasis("Lê Thị Lan", "HN-BADINH", reference, NOW)


def an(
    name: str = "Nguyễn Văn An",
    sex: Sex = Sex.MALE,
    born: date = date(1990, 3, 4),
    province: str = "001",
    nationality: Nationality = Nationality.VIETNAMESE,
    number_serial: int | None = 123456,
    registered_on: date | None = None,
) -> Person:
    """A registered person, with a number when Vietnamese."""
    person = Person.register_birth(
        uuid4(),
        basis(),
        name=name,
        sex=sex,
        born=born,
        birth_province=province,
        nationality=nationality,
        registered_on=registered_on or born,
        today=TODAY,
    )
    if nationality is Nationality.VIETNAMESE and number_serial is not None:
        number = IdNumber.compose(province, sex, born.year, number_serial)
        person.assign_id_number(basis(), number, "birth_registered", born)
    return person
