"""Reference data of the register, kept as versioned tables rather than scattered constants.

Province codes come from Circular 59/2021/TT-BCA, Annex I (63 provinces). The provinces were
merged into 34 on 12 June 2025, but numbers already issued keep their codes and the code that
newborns get now is not yet published, so the 2021 table stays the one in force until a new
version is added here. Country codes for births registered abroad come from an annex that is not
yet confirmed; they are configuration (`CIVLEDGER_ABROAD_CODES`), empty by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Protocol


@dataclass(frozen=True)
class ProvinceTable:
    """One version of the province code table, in force from `effective_from`."""

    version: str
    effective_from: date
    codes: Mapping[str, str]


CIRCULAR_59_2021 = ProvinceTable(
    version="circular-59-2021-annex-I",
    effective_from=date(2021, 6, 29),
    codes=MappingProxyType(
        {
            "001": "Hà Nội",
            "002": "Hà Giang",
            "004": "Cao Bằng",
            "006": "Bắc Kạn",
            "008": "Tuyên Quang",
            "010": "Lào Cai",
            "011": "Điện Biên",
            "012": "Lai Châu",
            "014": "Sơn La",
            "015": "Yên Bái",
            "017": "Hòa Bình",
            "019": "Thái Nguyên",
            "020": "Lạng Sơn",
            "022": "Quảng Ninh",
            "024": "Bắc Giang",
            "025": "Phú Thọ",
            "026": "Vĩnh Phúc",
            "027": "Bắc Ninh",
            "030": "Hải Dương",
            "031": "Hải Phòng",
            "033": "Hưng Yên",
            "034": "Thái Bình",
            "035": "Hà Nam",
            "036": "Nam Định",
            "037": "Ninh Bình",
            "038": "Thanh Hóa",
            "040": "Nghệ An",
            "042": "Hà Tĩnh",
            "044": "Quảng Bình",
            "045": "Quảng Trị",
            "046": "Thừa Thiên Huế",
            "048": "Đà Nẵng",
            "049": "Quảng Nam",
            "051": "Quảng Ngãi",
            "052": "Bình Định",
            "054": "Phú Yên",
            "056": "Khánh Hòa",
            "058": "Ninh Thuận",
            "060": "Bình Thuận",
            "062": "Kon Tum",
            "064": "Gia Lai",
            "066": "Đắk Lắk",
            "067": "Đắk Nông",
            "068": "Lâm Đồng",
            "070": "Bình Phước",
            "072": "Tây Ninh",
            "074": "Bình Dương",
            "075": "Đồng Nai",
            "077": "Bà Rịa–Vũng Tàu",  # noqa: RUF001 (the official name has an en dash)
            "079": "Hồ Chí Minh",
            "080": "Long An",
            "082": "Tiền Giang",
            "083": "Bến Tre",
            "084": "Trà Vinh",
            "086": "Vĩnh Long",
            "087": "Đồng Tháp",
            "089": "An Giang",
            "091": "Kiên Giang",
            "092": "Cần Thơ",
            "093": "Hậu Giang",
            "094": "Sóc Trăng",
            "095": "Bạc Liêu",
            "096": "Cà Mau",
        }
    ),
)


#: The codes for births registered abroad, as configured (`configure_abroad_codes`). Every
#: `ReferenceData` made with the default reads this one mapping, so configuring it once, where
#: the process starts, reaches every parser.
_ABROAD: dict[str, str] = {}


def configure_abroad_codes(codes: Mapping[str, str]) -> None:
    """Set the country codes for births registered abroad (code -> name). The annex that lists
    them is not confirmed, so they are configuration (`CIVLEDGER_ABROAD_CODES`, read by
    `infrastructure.settings`), empty by default."""
    _ABROAD.clear()
    _ABROAD.update(codes)


def _configured_abroad() -> Mapping[str, str]:
    return MappingProxyType(_ABROAD)


@dataclass(frozen=True)
class ReferenceData:
    """All province tables ever in force, plus the configured codes for births abroad."""

    tables: tuple[ProvinceTable, ...] = (CIRCULAR_59_2021,)
    abroad: Mapping[str, str] = field(default_factory=_configured_abroad)

    def table_in_force(self, on: date) -> ProvinceTable:
        """The newest table whose `effective_from` is on or before `on` (else the oldest)."""
        in_force = [t for t in self.tables if t.effective_from <= on]
        return max(in_force, key=lambda t: t.effective_from) if in_force else self.tables[0]

    def is_registration_code(self, code: str) -> bool:
        """True for a code that any table version, or the abroad list, has ever issued."""
        return code in self.abroad or any(code in t.codes for t in self.tables)

    def name_of(self, code: str) -> str | None:
        for table in reversed(self.tables):
            if code in table.codes:
                return table.codes[code]
        return self.abroad.get(code)


REFERENCE = ReferenceData()


class CommuneDirectory(Protocol):
    """The official commune codes, by the date they were in force.

    Codes were reused when the units were merged on 1 July 2025 (00070 was Phường Hàng Trống
    before and is Phường Hoàn Kiếm after), so a code is never read without its date."""

    def name_on(self, code: str, on: date) -> str | None:
        """The name of the commune `code` names on `on`, or None if no commune in force on
        that date has that code."""
        ...

    def version_on(self, on: date) -> str:
        """Which list was in force on `on` (its name and source), for messages and docs."""
        ...


class _NoCommunes:
    """Before the directory is configured, no code is a commune: refused, never guessed."""

    def name_on(self, code: str, on: date) -> str | None:
        return None

    def version_on(self, on: date) -> str:
        return "no commune list configured"


_COMMUNES: list[CommuneDirectory] = [_NoCommunes()]


def configure_communes(directory: CommuneDirectory) -> None:
    """Hand the domain the commune directory (loaded outside it, from maintained packages:
    `infrastructure.communes`)."""
    _COMMUNES[0] = directory


def communes() -> CommuneDirectory:
    return _COMMUNES[0]
