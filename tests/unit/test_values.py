from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.errors import InvalidInput
from domain.reference import REFERENCE, ReferenceData
from domain.values import (
    clean_text,
    fold_name,
    parse_date,
    parse_province,
    parse_timestamp,
    today_of,
)


def test_the_province_table_has_the_63_provinces_of_circular_59() -> None:
    table = REFERENCE.table_in_force(date(2024, 1, 1))
    assert len(table.codes) == 63
    assert table.codes["001"] == "Hà Nội"
    assert table.codes["079"] == "Hồ Chí Minh"
    assert "003" not in table.codes


def test_abroad_codes_are_configuration() -> None:
    reference = ReferenceData(abroad={"900": "registered abroad"})
    assert parse_province("900", reference) == "900"
    with pytest.raises(InvalidInput):
        parse_province("900")


@pytest.mark.parametrize("text", ["2024-13-01", "24-01-01", "yesterday", "2024/01/01"])
def test_dates_are_iso(text: str) -> None:
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        parse_date(text)


def test_a_naive_timestamp_means_utc() -> None:
    assert parse_timestamp("2021-05-01T10:00:00") == datetime(2021, 5, 1, 10, tzinfo=UTC)
    assert parse_timestamp("2021-05-01") == datetime(2021, 5, 1, tzinfo=UTC)


def test_the_register_day_is_indochina_time() -> None:
    class LateEvening:
        def now(self) -> datetime:
            return datetime(2026, 1, 1, 18, 30, tzinfo=UTC)

    assert today_of(LateEvening()) == date(2026, 1, 2)


def test_names_fold_diacritics_and_d_stroke() -> None:
    assert fold_name("Nguyễn Văn An") == "nguyen van an"
    assert fold_name("Đỗ  Thị Ánh") == "do thi anh"


def test_text_is_normalised_and_bounded() -> None:
    decomposed = "Nguye\u0302\u0303n"
    assert clean_text(f"  {decomposed}   Văn ", "name") == "Nguyễn Văn"
    with pytest.raises(InvalidInput, match="empty"):
        clean_text("   ", "name")
    with pytest.raises(InvalidInput, match="longer"):
        clean_text("a" * 201, "name")
