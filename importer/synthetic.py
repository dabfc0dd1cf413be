"""A synthetic population of the register: import rows (JSON Lines of acts, docs/import.md),
the same seed giving the same bytes.

The one population generator of the project: `civledger generate` writes its rows, the import
benchmarks import them, and the rebuild benchmark turns them into events
(`bench/event_log.py`) without going through the rules.

Families are drawn one at a time: parents, then children linked to them by their birth acts.
Each person's later acts (changes, corrections, nationality determined, renunciation, death,
a duplicate registration and its merge) are queued to appear some rows later, in their legal
order, so the file interleaves lives the way a migration does while every row refers only to
persons registered by earlier rows. Memory stays bounded by that queue, not by N.

Rates follow the register's report of 1 July 2021 (../shared/DOMAIN.md, docs/import.md); no
generated act is dated after `HORIZON`, so a file imports the same on any later day.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from itertools import accumulate
from typing import Any, TextIO

from domain.reference import REFERENCE

#: No generated act is dated after this day.
HORIZON = date(2026, 6, 30)
FIRST_BIRTH_YEAR = 1920

#: Population by province, thousands (2019 census), to weight birth provinces.
PROVINCE_POPULATION: dict[str, int] = {
    "001": 8054,
    "002": 854,
    "004": 530,
    "006": 314,
    "008": 785,
    "010": 731,
    "011": 599,
    "012": 460,
    "014": 1248,
    "015": 822,
    "017": 854,
    "019": 1287,
    "020": 782,
    "022": 1321,
    "024": 1804,
    "025": 1464,
    "026": 1152,
    "027": 1369,
    "030": 1893,
    "031": 2029,
    "033": 1253,
    "034": 1861,
    "035": 853,
    "036": 1781,
    "037": 982,
    "038": 3641,
    "040": 3328,
    "042": 1289,
    "044": 896,
    "045": 633,
    "046": 1129,
    "048": 1135,
    "049": 1496,
    "051": 1232,
    "052": 1487,
    "054": 873,
    "056": 1232,
    "058": 591,
    "060": 1231,
    "062": 541,
    "064": 1514,
    "066": 1870,
    "067": 623,
    "068": 1297,
    "070": 995,
    "072": 1170,
    "074": 2456,
    "075": 3097,
    "077": 1149,
    "079": 8993,
    "080": 1689,
    "082": 1765,
    "083": 1289,
    "084": 1010,
    "086": 1023,
    "087": 1600,
    "089": 1908,
    "091": 1723,
    "092": 1236,
    "093": 734,
    "094": 1200,
    "095": 907,
    "096": 1194,
}

#: Family names, weighted by their share of the population (per mille).
FAMILY_NAMES: dict[str, int] = {
    "Nguyễn": 380,
    "Trần": 110,
    "Lê": 95,
    "Phạm": 71,
    "Hoàng": 31,
    "Huỳnh": 20,
    "Phan": 45,
    "Vũ": 22,
    "Võ": 17,
    "Đặng": 21,
    "Bùi": 20,
    "Đỗ": 14,
    "Hồ": 13,
    "Ngô": 13,
    "Dương": 10,
    "Lý": 5,
    "Đinh": 6,
    "Trương": 5,
    "Lâm": 4,
    "Mai": 4,
    "Trịnh": 4,
    "Đào": 4,
    "Cao": 3,
    "Lương": 3,
    "Tạ": 2,
    "Hà": 3,
    "Lưu": 2,
    "Chu": 2,
    "Tô": 2,
    "Thái": 2,
}
MIDDLE_NAMES = {
    "male": ["Văn", "Đức", "Minh", "Quang", "Hữu", "Thành", "Công", "Quốc", "Xuân", "Anh"],
    "female": ["Thị", "Ngọc", "Thu", "Thanh", "Kim", "Phương", "Thùy", "Mai", "Hồng", "Bảo"],
}
GIVEN_NAMES = {
    "male": [
        "An",
        "Bình",
        "Cường",
        "Dũng",
        "Đạt",
        "Giang",
        "Hải",
        "Hiếu",
        "Hoàng",
        "Hùng",
        "Huy",
        "Khang",
        "Khánh",
        "Kiên",
        "Long",
        "Lộc",
        "Mạnh",
        "Minh",
        "Nam",
        "Nghĩa",
        "Phong",
        "Phúc",
        "Quân",
        "Quý",
        "Sơn",
        "Tài",
        "Thắng",
        "Thịnh",
        "Toàn",
        "Trung",
        "Tuấn",
        "Tùng",
        "Việt",
        "Vinh",
        "Vũ",
    ],
    "female": [
        "Anh",
        "Chi",
        "Diệp",
        "Dung",
        "Duyên",
        "Giang",
        "Hà",
        "Hạnh",
        "Hằng",
        "Hiền",
        "Hoa",
        "Hương",
        "Huyền",
        "Lan",
        "Liên",
        "Linh",
        "Loan",
        "Mai",
        "My",
        "Nga",
        "Ngân",
        "Ngọc",
        "Nhung",
        "Oanh",
        "Phương",
        "Quyên",
        "Tâm",
        "Thảo",
        "Thủy",
        "Trang",
        "Trinh",
        "Uyên",
        "Vân",
        "Vy",
        "Yến",
    ],
}
#: Ethnic groups, weighted by their share (per mille; 2019 census).
ETHNICITIES: dict[str, int] = {
    "Kinh": 853,
    "Tày": 19,
    "Thái": 19,
    "Mường": 15,
    "H'Mông": 15,
    "Khmer": 13,
    "Nùng": 11,
    "Dao": 9,
    "Hoa": 8,
    "Gia Rai": 5,
    "Ê Đê": 4,
    "Ba Na": 3,
    "Chăm": 2,
    "Sán Chay": 2,
    "Cơ Ho": 2,
    "Xơ Đăng": 2,
}
#: Weight of the decade in which a family's first child is born.
FIRST_CHILD_DECADES: dict[int, int] = {
    1940: 3,
    1950: 6,
    1960: 9,
    1970: 11,
    1980: 12,
    1990: 12,
    2000: 11,
    2010: 12,
    2020: 6,
}
CHILDREN = {0: 8, 1: 20, 2: 36, 3: 20, 4: 10, 5: 6}


@dataclass(frozen=True)
class Rates:
    """Chances per person; the defaults are near the register's report of 1 July 2021."""

    unlinked: float = 0.22  # a person registered without parents on record
    undetermined: float = 16_097 / 98_500_000  # 15,227 + 870 cases in 98.5 million
    stateless: float = 507 / 98_500_000
    determined_later: float = 0.5  # of undetermined cases, nationality determined since
    changed: float = 5_000_000 / 98_500_000  # nearly 5 million civil-status changes
    renounced: float = 92_000 / 98_500_000  # over 92,000 renunciations
    duplicate: float = 0.003  # one person registered twice, later merged
    late_registration: float = 0.08
    missing_place_of_birth: float = 0.05
    death_scale: float = 1.0


#: Every kind of act at rates high enough to show up in a few hundred people (tests, demos).
DENSE = Rates(
    undetermined=0.02,
    stateless=0.005,
    changed=0.25,
    renounced=0.03,
    duplicate=0.04,
    missing_place_of_birth=0.2,
)


@dataclass
class _Person:
    ref: dict[str, str]
    name: str
    family: str
    sex: str
    born: date
    province: str
    registered_on: date
    nationality: str
    place_of_birth: str | None
    ethnicity: str
    acts: list[dict[str, Any]] = field(default_factory=list)


class PopulationGenerator:
    """Streams the acts of `people` distinct persons (plus their duplicate records)."""

    #: Later acts appear up to this many rows after the act before them.
    SPREAD = 1500

    def __init__(self, people: int, seed: int, rates: Rates | None = None) -> None:
        self.people = people
        self.made = 0  # people generated so far
        self.rng = random.Random(seed)  # noqa: S311 (reproducible test data, not secrets)
        self.rates = rates or Rates()
        self.sequence = 0
        self.emitted = 0
        self.queue: list[tuple[int, int, dict[str, Any]]] = []
        self._provinces = list(PROVINCE_POPULATION)
        self._province_cum = list(accumulate(PROVINCE_POPULATION.values()))
        self._families = list(FAMILY_NAMES)
        self._family_cum = list(accumulate(FAMILY_NAMES.values()))
        self._ethnicities = list(ETHNICITIES)
        self._ethnicity_cum = list(accumulate(ETHNICITIES.values()))
        self._decades = list(FIRST_CHILD_DECADES)
        self._decade_cum = list(accumulate(FIRST_CHILD_DECADES.values()))
        self._children = list(CHILDREN)
        self._children_cum = list(accumulate(CHILDREN.values()))

    # ------------------------------------------------------------------ output

    def rows(self) -> Iterator[dict[str, Any]]:
        self.made = 0
        while self.made < self.people:
            for person in self._family(self.people - self.made):
                self.made += 1
                yield from self._emit(self._birth_row(person))
                self._plan_life(person)
        while self.queue:
            yield self._pop()

    def write(self, out: TextIO, progress: Callable[[int, int], None] | None = None) -> int:
        """Write every row; `progress(people, total)` every few thousand rows and at the end."""
        count = 0
        for row in self.rows():
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
            if progress is not None and count % 4096 == 0:
                progress(self.made, self.people)
        if progress is not None:
            progress(self.people, self.people)
        return count

    def _emit(self, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while self.queue and self.queue[0][0] <= self.emitted:
            yield self._pop()
        self.emitted += 1
        yield row

    def _pop(self) -> dict[str, Any]:
        self.emitted += 1
        return heapq.heappop(self.queue)[2]

    def _later(self, rows: list[dict[str, Any]]) -> None:
        """Queue one person's later acts, in order, each some rows after the one before."""
        due = self.emitted
        for row in rows:
            due += 1 + self.rng.randrange(self.SPREAD)
            self.sequence += 1
            heapq.heappush(self.queue, (due, self.sequence, row))

    # ----------------------------------------------------------------- drawing

    def _pick(self, items: list[Any], cumulative: list[int]) -> Any:
        return self.rng.choices(items, cum_weights=cumulative)[0]

    def _day_in(self, first: date, last: date) -> date:
        last = min(last, HORIZON)
        if last <= first:
            return first
        return first + timedelta(days=self.rng.randrange((last - first).days + 1))

    def _reference(self, prefix: str, on: date) -> str:
        self.sequence += 1
        return f"{prefix}-{on.year}-{self.sequence:09d}"

    def _office(self, province: str) -> str:
        return f"UBND phường {1 + self.rng.randrange(24)}, {REFERENCE.name_of(province)}"

    def _clerk(self) -> str:
        sex = self.rng.choice(("male", "female"))
        return (
            f"{self._pick(self._families, self._family_cum)} "
            f"{self.rng.choice(MIDDLE_NAMES[sex])} {self.rng.choice(GIVEN_NAMES[sex])}"
        )

    def _basis(self, prefix: str, province: str, on: date) -> dict[str, str]:
        return {
            "clerk": self._clerk(),
            "office": self._office(province),
            "reference": self._reference(prefix, on),
        }

    # ---------------------------------------------------------------- families

    def _family(self, room: int) -> list[_Person]:
        decade = self._pick(self._decades, self._decade_cum)
        first_child = date(decade, 1, 1) + timedelta(days=self.rng.randrange(3653))
        first_child = min(first_child, HORIZON)
        parents_born = first_child.year - 20 - self.rng.randrange(16)
        if room < 3 or self.rng.random() < self.rates.unlinked or parents_born < FIRST_BIRTH_YEAR:
            return [self._person(first_child, self._province(), None, None)]
        province = self._province()
        father = self._person(
            self._birthday(parents_born - self.rng.randrange(6)), province, None, None, sex="male"
        )
        mother = self._person(self._birthday(parents_born), province, None, None, sex="female")
        family = [father, mother]
        born = first_child
        for _ in range(min(self._pick(self._children, self._children_cum), room - 2)):
            if born > HORIZON or born.year - mother.born.year > 45:
                break
            child_province = province if self.rng.random() < 0.9 else self._province()
            family.append(self._person(born, child_province, father, mother))
            born += timedelta(days=300 + self.rng.randrange(365 * 5))
        return family

    def _birthday(self, year: int) -> date:
        year = max(FIRST_BIRTH_YEAR, year)
        return self._day_in(date(year, 1, 1), date(year, 12, 31))

    def _province(self) -> str:
        return str(self._pick(self._provinces, self._province_cum))

    def _person(
        self,
        born: date,
        province: str,
        father: _Person | None,
        mother: _Person | None,
        sex: str | None = None,
    ) -> _Person:
        rates, rng = self.rates, self.rng
        sex = sex or ("male" if rng.random() < 0.512 else "female")
        family = father.family if father else self._pick(self._families, self._family_cum)
        name = f"{family} {rng.choice(MIDDLE_NAMES[sex])} {rng.choice(GIVEN_NAMES[sex])}"
        if rng.random() < rates.late_registration:
            registered_on = self._day_in(born + timedelta(days=61), born + timedelta(days=3650))
        else:
            registered_on = self._day_in(born, born + timedelta(days=60))
        draw = rng.random()
        nationality = "vietnamese"
        if draw < rates.undetermined:
            nationality = "undetermined"
        elif draw < rates.undetermined + rates.stateless:
            nationality = "stateless"
        office = self._office(province)
        reference = self._reference("KS", registered_on)
        person = _Person(
            ref={"office": office, "reference": reference},
            name=name,
            family=family,
            sex=sex,
            born=born,
            province=province,
            registered_on=registered_on,
            nationality=nationality,
            place_of_birth=(
                None
                if rng.random() < rates.missing_place_of_birth
                else f"Trạm y tế, {REFERENCE.name_of(province)}"
            ),
            ethnicity=(
                mother.ethnicity if mother else self._pick(self._ethnicities, self._ethnicity_cum)
            ),
        )
        person.acts = [
            {"father": father.ref if father else None, "mother": mother.ref if mother else None}
        ]
        return person

    def _birth_row(self, person: _Person) -> dict[str, Any]:
        links = person.acts[0]
        row: dict[str, Any] = {
            "kind": "birth",
            "clerk": self._clerk(),
            "office": person.ref["office"],
            "reference": person.ref["reference"],
            "name": person.name,
            "sex": person.sex,
            "born": person.born.isoformat(),
            "province": person.province,
            "nationality": person.nationality,
            "ethnicity": person.ethnicity,
        }
        if person.place_of_birth:
            row["place_of_birth"] = person.place_of_birth
        for role in ("father", "mother"):
            if links[role]:
                row[role] = links[role]
        row["registered_on"] = person.registered_on.isoformat()
        return row

    # -------------------------------------------------------------- later acts

    def _plan_life(self, person: _Person) -> None:
        rates, rng = self.rates, self.rng
        rows: list[dict[str, Any]] = []
        since = person.registered_on
        vietnamese = person.nationality == "vietnamese"
        if person.nationality == "undetermined" and rng.random() < rates.determined_later:
            since = self._day_in(since, since + timedelta(days=3650))
            rows.append(self._change(person, "nationality", "vietnamese", "redetermination", since))
            vietnamese = True
        if rng.random() < rates.changed:
            since = self._day_in(since, since + timedelta(days=7300))
            rows.append(self._record_change(person, since))
        adult = person.born + timedelta(days=365 * 18)
        if vietnamese and adult < HORIZON and rng.random() < rates.renounced:
            since = self._day_in(max(since, adult), max(since, adult) + timedelta(days=7300))
            rows.append(
                {
                    "kind": "renunciation",
                    **self._basis("QĐ-TQT", person.province, since),
                    "person": person.ref,
                    "effective": since.isoformat(),
                }
            )
        died = self._death_date(person, since)
        if died is not None:
            rows.append(
                {
                    "kind": "death",
                    **self._basis("KT", person.province, died),
                    "person": person.ref,
                    "died_on": died.isoformat(),
                    "place": REFERENCE.name_of(person.province),
                }
            )
        if rng.random() < rates.duplicate:
            rows.extend(self._duplicate(person))
        if rows:
            self._later(rows)

    def _change(
        self, person: _Person, field_name: str, value: str, kind: str, on: date
    ) -> dict[str, Any]:
        prefix = "CC" if kind == "correction" else "TĐ"
        return {
            "kind": "change",
            **self._basis(prefix, person.province, on),
            "person": person.ref,
            "field": field_name,
            "value": value,
            "change_kind": kind,
            "effective": on.isoformat(),
        }

    def _record_change(self, person: _Person, on: date) -> dict[str, Any]:
        """A name change mostly; sometimes a correction that forces a new number."""
        rng = self.rng
        draw = rng.random()
        if draw < 0.70:
            given = rng.choice([g for g in GIVEN_NAMES[person.sex] if g not in person.name])
            person.name = f"{person.name.rsplit(' ', 1)[0]} {given}"
            return self._change(person, "name", person.name, "change", on)
        if draw < 0.78:
            shift = rng.choice((-1, 1)) if person.born.year > FIRST_BIRTH_YEAR else 1
            moved = _shift_year(person.born, shift)
            if moved > min(on, person.registered_on):
                moved = _shift_year(person.born, -1)
            person.born = moved
            return self._change(person, "born", moved.isoformat(), "correction", on)
        if draw < 0.84:
            province = self._province()
            while province == person.province:
                province = self._province()
            person.province = province
            return self._change(person, "birth_province", province, "correction", on)
        if draw < 0.88:
            person.sex = "female" if person.sex == "male" else "male"
            return self._change(person, "sex", person.sex, "redetermination", on)
        if draw < 0.94 and person.place_of_birth is None:
            person.place_of_birth = f"Bệnh viện, {REFERENCE.name_of(person.province)}"
            return self._change(person, "place_of_birth", person.place_of_birth, "supplement", on)
        other = self._pick(self._ethnicities, self._ethnicity_cum)
        if other == person.ethnicity:
            other = "Tày" if person.ethnicity == "Kinh" else "Kinh"
        person.ethnicity = other
        return self._change(person, "ethnicity", other, "redetermination", on)

    def _death_date(self, person: _Person, since: date) -> date | None:
        age = HORIZON.year - person.born.year
        chance = next(p for limit, p in _DEATH_BY_AGE if age >= limit) * self.rates.death_scale
        if self.rng.random() >= chance:
            return None
        first = max(since, person.born + timedelta(days=1))
        return self._day_in(first, HORIZON)

    def _duplicate(self, person: _Person) -> list[dict[str, Any]]:
        """The same person registered again at another office, later; then merged."""
        later = self._day_in(
            person.registered_on + timedelta(days=30), person.registered_on + timedelta(days=3650)
        )
        if later <= person.registered_on:
            return []
        copy = replace(
            person,
            registered_on=later,
            ref={
                "office": self._office(person.province),
                "reference": self._reference("KS", later),
            },
        )
        copy.acts = [{"father": None, "mother": None}]
        birth = self._birth_row(copy)
        merge = {
            "kind": "merge",
            **self._basis("SN", person.province, HORIZON),
            "person": copy.ref,
            "into": person.ref,
        }
        return [birth, merge]


#: Chance that a person born so many years before the horizon has died (oldest first).
_DEATH_BY_AGE = ((95, 0.9), (85, 0.6), (75, 0.35), (65, 0.18), (50, 0.07), (30, 0.02), (0, 0.006))


def _shift_year(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
