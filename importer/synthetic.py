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

With `residence=True`, each family's residence story follows its births (`_ResidencePlanner`):
households set up by a parent, the family joining, moves, temporary residents and their
extensions, abode declarations, head changes, splits, confirmations and deletion proposals,
all dated from 1 July 2025 (the 2025 commune codes) to `HORIZON`. Those rows come from a
random generator of their own and are placed between the civil rows without moving them: the
civil rows of a file are the same bytes, in the same order, with or without residence.

With `cards=True`, each person's identity cards and eid (`importer.synthetic_cards`) are put
among their civil rows in date order, and, with residence, people of undetermined nationality
get identity certificates after six months at their abode.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING, Any, TextIO

from domain.reference import REFERENCE
from domain.residence import ADULT_AGE, TEMPORARY_YEARS, age_on, years_after
from importer.synthetic_cards import CardLife, CardPlanner, card_rows

if TYPE_CHECKING:
    from collections.abc import Mapping

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
    # Residence, households and record cleaning (with `residence=True`). The report gives no
    # figure for these: each is an assumption, documented in docs/import.md (what they give).
    living_apart: float = 0.35  # of adult children: their own household, elsewhere
    without_residence: float = 0.02  # of adults living alone: no residence, an abode
    family_move: float = 0.02  # of households: a move to another commune in the year
    leaving_home: float = 0.03  # of adult children in the household: their own one, elsewhere
    temporary: float = 0.06  # of adults 18-64: a temporary residence in another commune
    extension: float = 0.3  # of temporary residences: extended before they end
    temporary_ended: float = 0.15  # of temporary residences: ended early
    residence_ended: float = 0.002  # of members: a permanent residence ended, no new one
    split: float = 0.02  # of households with an adult child: the child splits off
    head_handover: float = 0.1  # of households whose head is 65 or older: a child takes over
    head_after_death: float = 0.7  # of households whose head died: a new head named
    confirmed: float = 0.99  # of people with a permanent residence: the record confirmed
    proposed_deletion: float = 0.001  # of people: their record proposed for deletion
    proposal_withdrawn: float = 0.4  # of proposals: withdrawn
    # Identity cards and eids (with `cards=True`; importer/synthetic_cards.py, docs/import.md).
    card_campaign: float = 50_000_000 / 76_000_000  # of citizens 14+ in March 2021: in 2021
    card_before_campaign: float = 0.5  # of the others: a card from 2016 to February 2021
    card_under_14: float = 0.02  # of children: a card on request before 14
    card_renewed: float = 0.9  # of cards: renewed for age in the window before they expire
    card_data_renewed: float = 0.8  # of holders whose card a change made wrong: renewed
    card_lost: float = 0.03  # of cards: lost, a new one issued
    card_damaged: float = 0.01  # of cards: damaged, a new one issued
    card_revoked: float = 0.0005  # of cards: revoked (issued wrongly, tampered)
    card_withheld: float = 0.002  # of cards: withheld (custody, detention, prison, ...)
    card_returned: float = 0.8  # of withheld cards: returned
    card_eid: float = 0.6  # of card holders: an electronic identity, from 2022
    eid_locked: float = 0.02  # of eids: locked on request (70 % unlocked later)
    # Identity certificates (with `residence=True` and `cards=True`): people of undetermined
    # nationality who declared an abode, once they have lived there six months (Art. 30).
    certificate: float = 0.8
    certificate_revoked: float = 0.02  # of certificates: issued wrongly or tampered with


#: Every kind of act at rates high enough to show up in a few hundred people (tests, demos).
DENSE = Rates(
    undetermined=0.02,
    stateless=0.005,
    changed=0.25,
    renounced=0.03,
    duplicate=0.04,
    missing_place_of_birth=0.2,
    without_residence=0.3,
    family_move=0.2,
    leaving_home=0.3,
    temporary=0.4,
    extension=0.5,
    temporary_ended=0.3,
    residence_ended=0.1,
    split=0.3,
    head_handover=0.5,
    head_after_death=0.5,
    proposed_deletion=0.1,
    proposal_withdrawn=0.5,
    card_under_14=0.2,
    card_lost=0.2,
    card_damaged=0.1,
    card_revoked=0.05,
    card_withheld=0.1,
    eid_locked=0.3,
    certificate_revoked=0.3,
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
    #: The birth of this person's youngest child so far: a parent's death comes after it.
    last_child: date | None = None
    #: The latest date of birth the record has at any time (a correction may move it).
    born_max: date | None = None
    #: Whether an undetermined nationality is determined Vietnamese by a later row.
    determined: bool = False
    #: The person's first death or renunciation row, its date and its place in the file
    #: (the row is due no earlier than `exit_due` civil rows): no residence act after it.
    exit_on: date | None = None
    exit_due: int | None = None
    exit_row: dict[str, Any] | None = None


class PopulationGenerator:
    """Streams the acts of `people` distinct persons (plus their duplicate records)."""

    #: Later acts appear up to this many rows after the act before them.
    SPREAD = 1500

    def __init__(
        self,
        people: int,
        seed: int,
        rates: Rates | None = None,
        *,
        residence: bool = False,
        household_refs: bool = False,
        cards: bool = False,
    ) -> None:
        """`residence`: also the residence, household and record-cleaning acts of the people.
        `household_refs`: name a household by the act that set it up (joins, head changes,
        splits: docs/import.md); without it, households are set up but never named.
        `cards`: also the identity cards and eids of the people (importer/synthetic_cards.py)."""
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
        #: The residence rows, waiting for their place among the civil rows: (due, order, row),
        #: due as the number of civil rows before it.
        self.residence_queue: list[tuple[int, int, dict[str, Any]]] = []
        #: Residence rows that follow a civil row (a head named after the head's death), by the
        #: id of that row while it waits in `queue`.
        self._after: dict[int, list[dict[str, Any]]] = {}
        self._residence_order = 0
        self._planner = (
            _ResidencePlanner(seed, self.rates, household_refs=household_refs, certificates=cards)
            if residence
            else None
        )
        self._cards = CardPlanner(seed, self.rates, HORIZON) if cards else None
        self._card_acts = 0

    # ------------------------------------------------------------------ output

    def rows(self) -> Iterator[dict[str, Any]]:
        self.made = 0
        while self.made < self.people:
            family = self._family(self.people - self.made)
            for person in family:
                self.made += 1
                yield from self._emit(self._birth_row(person))
            # The family's later acts once all its births are out: a parent's re-determined
            # sex never comes before a child's birth naming them.
            for person in family:
                self._plan_life(person)
            if self._planner is not None:
                self._plan_residence(family)
        # The last civil rows come out without waiting for their place: a residence row goes
        # before every civil row due after it, as it would have in the file's body.
        while self.queue or self.residence_queue:
            if self.residence_queue and (
                not self.queue or self.residence_queue[0][0] <= self.queue[0][0]
            ):
                yield heapq.heappop(self.residence_queue)[2]
            else:
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
            yield from self._residence_rows()
            yield self._pop()
        yield from self._residence_rows()
        self.emitted += 1
        yield row

    def _pop(self) -> dict[str, Any]:
        self.emitted += 1
        row = heapq.heappop(self.queue)[2]
        after = self._after.pop(id(row), None)
        if after is not None and self._planner is not None:
            self._place(self._planner.spread(self.emitted, self.SPREAD, len(after)), after)
        return row

    def _residence_due(self) -> bool:
        return bool(self.residence_queue) and self.residence_queue[0][0] <= self.emitted

    def _residence_rows(self) -> Iterator[dict[str, Any]]:
        """The residence rows due before the next civil row."""
        while self._residence_due():
            yield heapq.heappop(self.residence_queue)[2]

    def _later(self, rows: list[dict[str, Any]]) -> list[int]:
        """Queue one person's later acts, in order, each some rows after the one before;
        returns when each is due."""
        due = self.emitted
        dues = []
        for row in rows:
            due += 1 + self.rng.randrange(self.SPREAD)
            self.sequence += 1
            heapq.heappush(self.queue, (due, self.sequence, row))
            dues.append(due)
        return dues

    def _place(self, dues: list[int], rows: list[dict[str, Any]]) -> None:
        """Queue residence rows, in order, each before the civil row of its `due`."""
        for due, row in zip(dues, rows, strict=True):
            self._residence_order += 1
            heapq.heappush(self.residence_queue, (due, self._residence_order, row))

    def _plan_residence(self, family: list[_Person]) -> None:
        """Queue the family's residence rows after its births, each person's before their
        death or renunciation; a new head, if any, after the head's."""
        assert self._planner is not None  # noqa: S101 (only called with a planner)
        plan = self._planner.plan(family, self.emitted, self.SPREAD)
        self._place([due for due, _ in plan.rows], [row for _, row in plan.rows])
        for civil, rows in plan.after:
            self._after.setdefault(id(civil), []).extend(rows)

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
        # Late only when that is still before the horizon (no act is dated after it).
        if rng.random() < rates.late_registration and born + timedelta(days=61) <= HORIZON:
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
        for parent in (father, mother):
            if parent is not None:
                parent.last_child = max(parent.last_child or born, born)
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
        born = person.born
        vietnamese = person.nationality == "vietnamese"
        citizen_from = since if vietnamese else None
        if person.nationality == "undetermined" and rng.random() < rates.determined_later:
            since = self._day_in(since, since + timedelta(days=3650))
            rows.append(self._change(person, "nationality", "vietnamese", "redetermination", since))
            vietnamese = True
            person.determined = True
            citizen_from = since
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
        died = self._death_date(person, max(since, person.last_child or since))
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
        if self._cards is not None and citizen_from is not None:
            rows = self._with_cards(person, rows, born, citizen_from)
        if rng.random() < rates.duplicate:
            rows.extend(self._duplicate(person))
        if rows:
            for due, row in zip(self._later(rows), rows, strict=True):
                if row["kind"] in ("renunciation", "death") and person.exit_row is None:
                    person.exit_row, person.exit_due = row, due
                    person.exit_on = date.fromisoformat(row.get("effective") or row["died_on"])

    def _with_cards(
        self, person: _Person, rows: list[dict[str, Any]], born: date, citizen_from: date
    ) -> list[dict[str, Any]]:
        """The person's civil rows with their identity acts among them, in date order."""
        assert self._cards is not None  # noqa: S101 (only called with a card planner)
        dated = [(date.fromisoformat(row.get("effective") or row["died_on"]), row) for row in rows]
        change = next(
            (
                (
                    on,
                    row["field"],
                    date.fromisoformat(row["value"]) if row["field"] == "born" else None,
                )
                for on, row in dated
                if row["kind"] == "change" and row["field"] != "nationality"
            ),
            None,
        )
        ends = next((on for on, row in dated if row["kind"] in ("death", "renunciation")), None)
        acts = self._cards.plan(CardLife(born, citizen_from, change, ends))
        if not acts:
            return rows
        cards = card_rows(acts, person.ref, lambda prefix, on: self._card_basis(person, prefix, on))
        merged: list[dict[str, Any]] = []
        for on, row in dated:
            while cards and cards[0][0] < on:
                merged.append(cards.pop(0)[1])
            merged.append(row)
        merged.extend(row for _, row in cards)
        return merged

    def _card_basis(self, person: _Person, prefix: str, on: date) -> dict[str, str]:
        """Who records an identity act: the province's police, from the card planner's own
        random generator (the civil rows draw from theirs alone)."""
        assert self._cards is not None  # noqa: S101 (only called with a card planner)
        rng = self._cards.rng
        self._card_acts += 1
        sex = rng.choice(("male", "female"))
        clerk = (
            f"{rng.choices(self._families, cum_weights=self._family_cum)[0]} "
            f"{rng.choice(MIDDLE_NAMES[sex])} {rng.choice(GIVEN_NAMES[sex])}"
        )
        return {
            "clerk": clerk,
            "office": f"Phòng Cảnh sát QLHC về TTXH, Công an {REFERENCE.name_of(person.province)}",
            "reference": f"{prefix}-{on.year}-{self._card_acts:09d}",
        }

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
            person.born_max = max(person.born_max or person.born, moved)
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
        if later <= person.registered_on or later > HORIZON:
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


# --------------------------------------------------------------------- residence

#: The first day of the 2025 commune list (Decision 19/2025/QĐ-TTg): every residence act is
#: dated from it, so that its commune code is read in that list.
RESIDENCE_FROM = date(2025, 7, 1)
#: Households are set up over the first weeks of the list, as a register taking its people in.
SETUP_DAYS = 60
#: Members join their household within days of its set-up (or of their birth).
JOIN_DAYS = 10
#: Why a permanent residence ends with no new one (codes of `domain.residence`), weighted.
PERMANENT_END_GROUNDS = {"settled_abroad": 6, "absent": 2, "home_demolished": 1, "lodging_ended": 1}
TEMPORARY_END_GROUNDS = ("lodging_ended", "absent")
DELETION_REASONS = (
    "trùng thông tin với hồ sơ khác",
    "không xác minh được nhân thân",
    "thông tin sai lệch, chưa có căn cứ điều chỉnh",
)


@dataclass
class ResidencePlan:
    """A family's residence rows with the civil row each must precede (`due`), and the rows
    that follow a civil row (a new head after the head's death or renunciation)."""

    rows: list[tuple[int, dict[str, Any]]]
    after: list[tuple[dict[str, Any], list[dict[str, Any]]]]


class _Communes:
    """The commune codes of the 2025 list, as the register checks them
    (`infrastructure.communes`), by the pre-2025 province whose commune had the same code: a
    family lives in the province where its births were registered."""

    def __init__(self) -> None:
        from infrastructure.communes import (
            COMMUNES,
            THREE_TIER,
            TWO_TIER_2025,
            dataset_path,
            read_list,
        )

        self.names: Mapping[str, str] = COMMUNES.codes_on(TWO_TIER_2025.effective_from)
        path = dataset_path()
        self.provinces = read_list(replace(TWO_TIER_2025, name_column="province"), path)
        before = read_list(replace(THREE_TIER, name_column="provinceCode"), path)
        self.codes = sorted(self.names)
        self.by_province: dict[str, list[str]] = {}
        for code in self.codes:
            if code in before:
                self.by_province.setdefault(f"0{before[code]}", []).append(code)


@dataclass(eq=False)
class _Stay:
    """Where one person stands while their family's residence is planned."""

    person: _Person
    commune: str | None = None  # the current permanent residence's commune
    address: str = ""
    since: date | None = None  # the first permanent residence's date
    settled_on: date | None = None  # the latest permanent residence's date
    #: The act that set up the household the person is in, and the relation to its head.
    household: dict[str, str] | None = None
    relation: str | None = None
    communes: set[str] = field(default_factory=set)  # every commune of a permanent residence
    child: bool = False  # a child of the family's parents
    settled: bool = False  # a move, a split or a head change planned: nothing more
    left: bool = False  # left the family's household (moved out, residence ended)

    @property
    def ref(self) -> dict[str, str]:
        return self.person.ref


@dataclass(eq=False)
class _Home:
    """The family's household: where, who heads it, the act that set it up, who lives in it
    (the head first)."""

    commune: str
    address: str
    province: str
    parents: list[_Person]
    head: _Person | None
    household: dict[str, str] | None = None
    members: list[_Stay] = field(default_factory=list)


class _ResidencePlanner:
    """Plans each family's residence, households and record cleaning, with a random
    generator of its own (the civil rows draw nothing more)."""

    def __init__(
        self, seed: int, rates: Rates, *, household_refs: bool, certificates: bool = False
    ) -> None:
        self.rng = random.Random(f"{seed}:residence")  # noqa: S311 (reproducible test data)
        self.rates = rates
        self.household_refs = household_refs
        #: Identity certificates come from a generator of their own, so that the residence
        #: rows are the same with them or without.
        self._certificates = (
            random.Random(f"{seed}:certificates")  # noqa: S311 (reproducible test data)
            if certificates
            else None
        )
        self._certified = 0
        #: The abode rows of people of undetermined nationality in the family being planned.
        self._abodes: list[tuple[dict[str, Any], _Stay, date]] = []
        self.sequence = 0
        self._communes: _Communes | None = None
        self._acts: list[tuple[date, int, dict[str, Any]]] = []
        self._after: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        #: No row of the family being planned goes at or after the civil row `_bound` (a death
        #: among them), nor before `_floor`.
        self._bound = self._floor = 0
        #: A household the next family's orphans can join: the act that set it up, where it
        #: is, since when a member who stays for good is in it, and its last row's place.
        self._fostering: tuple[dict[str, str], str, str, date, int] | None = None

    @property
    def communes(self) -> _Communes:
        if self._communes is None:
            self._communes = _Communes()
        return self._communes

    def spread(self, emitted: int, spread: int, count: int) -> list[int]:
        """Places for `count` rows in order, each up to `spread` civil rows after the last."""
        due, dues = emitted, []
        for _ in range(count):
            due += 1 + self.rng.randrange(spread)
            dues.append(due)
        return dues

    def plan(self, family: list[_Person], emitted: int, spread: int) -> ResidencePlan:
        """The family's rows, dated from `RESIDENCE_FROM` and before anyone of them dies or
        renounces, placed after the `emitted` civil rows and before any of those deaths."""
        rng = self.rng
        self._acts, self._after, self._abodes = [], [], []
        start = RESIDENCE_FROM + timedelta(days=rng.randrange(SETUP_DAYS))
        present = [p for p in family if _stays_after(p, start, emitted)]
        ends = [p.exit_on for p in present if p.exit_on is not None]
        last = min(HORIZON, min(ends, default=HORIZON) - timedelta(days=1))
        present = [p for p in present if _born(p) <= last]
        exits = [p.exit_due for p in present if p.exit_due is not None]
        self._bound = min(exits, default=emitted + 2 * spread)
        self._floor = emitted
        stays = self._family(family, present, start, last) if present else []
        acts = sorted(self._acts, key=lambda act: (act[0], act[1]))
        low = max(emitted, self._floor)
        span = max(1, min(self._bound - low, 2 * spread))
        dues = [low + offset for offset in sorted(rng.randrange(span) for _ in acts)]
        home = next(filter(None, map(_home_for_good, stays)), None)
        if home is not None and self.household_refs and dues:
            self._fostering = (*home, dues[-1])
        rows = [(due, row) for due, (_, _, row) in zip(dues, acts, strict=True)]
        if self._abodes:
            rows = self._with_certificates(rows, last)
        return ResidencePlan(rows, self._after)

    def _with_certificates(
        self, rows: list[tuple[int, dict[str, Any]]], last: date
    ) -> list[tuple[int, dict[str, Any]]]:
        """Each certificate right after the abode row it rests on (in the same place among
        the civil rows, so before any death or renunciation of the family)."""
        assert self._certificates is not None  # noqa: S101 (abodes noted only then)
        rng, rates = self._certificates, self.rates
        abodes = {id(row): (stay, on) for row, stay, on in self._abodes}
        placed: list[tuple[int, dict[str, Any]]] = []
        for due, row in rows:
            placed.append((due, row))
            if id(row) not in abodes or rng.random() >= rates.certificate:
                continue
            stay, since = abodes[id(row)]
            first = since + timedelta(days=190)  # six months in the commune (Art. 30(1))
            if first > last:
                continue
            on = first + timedelta(days=rng.randrange((last - first).days + 1))
            placed.append((due, self._certificate_row(row, stay, "issue", on)))
            if rng.random() < rates.certificate_revoked and on < last:
                off = on + timedelta(days=1 + rng.randrange((last - on).days))
                placed.append((due, self._certificate_row(row, stay, "revoke", off)))
        return placed

    def _certificate_row(
        self, abode: dict[str, Any], stay: _Stay, act: str, on: date
    ) -> dict[str, Any]:
        """An identity certificate issued (or revoked) by the police of the abode's commune."""
        assert self._certificates is not None  # noqa: S101 (only with certificates)
        rng = self._certificates
        self._certified += 1
        sex = rng.choice(("male", "female"))
        row: dict[str, Any] = {
            "kind": f"{act}_identity_certificate",
            "clerk": f"{rng.choice(list(FAMILY_NAMES))} {rng.choice(MIDDLE_NAMES[sex])} "
            f"{rng.choice(GIVEN_NAMES[sex])}",
            "office": abode["office"],
            "reference": f"{'GXNC' if act == 'issue' else 'TH-GXNC'}-{on.year}-"
            f"{self._certified:09d}",
            "person": stay.ref,
        }
        if act == "revoke":
            row["ground"] = rng.choice(("issued_wrongly", "tampered"))
        row["effective"] = on.isoformat()
        return row

    # ------------------------------------------------------------- the story

    def _family(
        self, family: list[_Person], present: list[_Person], start: date, last: date
    ) -> list[_Stay]:
        alone = len(family) == 1
        parents = [] if alone else family[:2]
        children = sorted(family[2:], key=lambda p: p.born)
        here = {id(p) for p in present}
        order = [p for p in (*parents, *children) if id(p) in here] if parents else present
        home = self._commune_in(family[0].province)
        head = next((p for p in order if _may_head(p, start)), None)
        if head is not None and alone and self.rng.random() < self.rates.without_residence:
            head = None
        stays = {id(p): _Stay(p, child=any(p is c for c in children)) for p in order}
        family_home = _Home(home, self._address(home), family[0].province, parents, head)
        if head is not None:
            family_home.household = self._settle(stays[id(head)], start, home, family_home.address)
            family_home.members.append(stays[id(head)])
        for person in order:
            if person is not head:
                self._member(stays[id(person)], family_home, start, last, alone=alone)
        at_home = family_home.members
        if at_home:
            self._household_events(at_home, family_home.household, family_home.province, last)
        for stay in stays.values():
            self._own_events(stay, family_home.province, last, at_home)
            self._cleaning(stay, start, last)
        if head is not None:
            self._head_after_exit(stays[id(head)], list(stays.values()))
        return list(stays.values())

    def _member(self, stay: _Stay, home: _Home, start: date, last: date, *, alone: bool) -> None:
        """A family member other than the head: joins the household (or, without household
        references, an adult sets up their own at the same address), lives apart (an adult
        child), or, without a residence, declares an abode."""
        person = stay.person
        on = max(start, _born(person)) + timedelta(days=self.rng.randrange(JOIN_DAYS))
        if on > last:
            return
        vietnamese_parent = any(_nationality(p) == "vietnamese" for p in home.parents)
        undetermined = _nationality(person) == "undetermined"
        minor = not _adult(person, on)
        if alone or (undetermined and (not minor or not vietnamese_parent)):
            if not (minor and not undetermined and self._foster(stay, on, last)):
                self._abode(stay, on, home.commune, home.address)
            return
        if home.head is None or home.household is None:
            if minor:  # no adult to head a household: a relative's
                self._foster(stay, on, last)
            return
        if stay.child and _adult(person, on) and self.rng.random() < self.rates.living_apart:
            self._settle(
                stay, on, *self._place(self._elsewhere(home.province, {home.commune}, 0.7))
            )
            return
        if self.household_refs:
            relation = _relation(person, home.head, home.parents)
            self._settle(
                stay, on, home.commune, home.address, household=home.household, relation=relation
            )
            home.members.append(stay)
        elif _adult(person, on):  # a household of one at the family's address
            self._settle(stay, on, home.commune, home.address)
            home.members.append(stay)

    def _foster(self, stay: _Stay, on: date, last: date) -> bool:
        """A child with no parent on record, or none who can head a household, joins the
        household of the family planned before (`_fostering`) as another relative: after
        every row of that family, before any death among their own."""
        if self._fostering is None:
            return False
        household, commune, address, since, due = self._fostering
        day = max(on, since + timedelta(days=1))
        if day > last or due + 1 >= self._bound:
            return False
        self._floor = due
        self._settle(stay, day, commune, address, household=household, relation="other_relative")
        return True

    def _household_events(
        self, at_home: list[_Stay], household: dict[str, str] | None, province: str, last: date
    ) -> None:
        """At most one of: the household moves, a child splits off, the head hands over."""
        rng, rates = self.rng, self.rates
        head = at_home[0]
        joined = max(s.since for s in at_home if s.since is not None)
        on = self._day(joined + timedelta(days=30), last)
        if on is None:
            return
        children = [s for s in at_home[1:] if s.relation == "child" and _adult(s.person, on)]
        eldest = min(children, key=lambda s: s.person.born) if children else None
        if rng.random() < rates.family_move:
            self._move(at_home, province, on, last)
        elif self.household_refs and household and eldest and rng.random() < rates.split:
            row = self._row(
                "split_household",
                "THK",
                head.commune,
                on,
                household=household,
                members=[eldest.ref],
                head=eldest.ref,
            )
            eldest.household = {"office": row["office"], "reference": row["reference"]}
            eldest.relation, eldest.settled, eldest.left = "head", True, True
        elif (
            self.household_refs
            and household
            and eldest
            and age_on(_born(head.person), on) >= 65
            and rng.random() < rates.head_handover
        ):
            self._row("change_head", "ĐCH", head.commune, on, household=household, head=eldest.ref)
            head.relation, eldest.relation = "other", "head"
            head.settled = eldest.settled = True

    def _move(self, at_home: list[_Stay], province: str, on: date, last: date) -> None:
        """The household moves to another commune: the head sets up the new household, the
        others join it (or, without household references, each sets up their own)."""
        head = at_home[0]
        commune, address = self._place(self._elsewhere(province, head.communes, 0.6))
        household = self._settle(head, on, commune, address)
        for stay in at_home:
            stay.settled = True
            day = on + timedelta(days=self.rng.randrange(JOIN_DAYS))
            if stay is head or day > last:
                continue
            if self.household_refs:
                relation = stay.relation or "other"
                self._settle(stay, day, commune, address, household=household, relation=relation)
            else:
                self._settle(stay, day, commune, address)

    def _own_events(self, stay: _Stay, province: str, last: date, at_home: list[_Stay]) -> None:
        """At most one of: a temporary residence elsewhere (perhaps extended or ended early),
        a child leaving home for a household of their own, a permanent residence ended."""
        if stay.since is None or stay.commune is None:
            return
        rng, rates = self.rng, self.rates
        person = stay.person
        first = stay.since + timedelta(days=1)
        draw = rng.random()
        if draw < rates.temporary and ADULT_AGE <= age_on(_born(person), first) < 65:
            self._temporary(stay, province, first, last)
            return
        draw -= rates.temporary
        if draw < 0 or stay.settled or (at_home and stay is at_home[0]):
            return
        on = self._day(first, last)
        if on is None:
            return
        if draw < rates.leaving_home:
            if stay.child and stay in at_home and _adult(person, on):
                self._settle(stay, on, *self._place(self._elsewhere(province, stay.communes, 0.5)))
                stay.settled = stay.left = True
        elif draw - rates.leaving_home < rates.residence_ended:
            ground = rng.choices(list(PERMANENT_END_GROUNDS), list(PERMANENT_END_GROUNDS.values()))
            self._row(
                "end_residence",
                "XTT",
                stay.commune,
                on,
                person=stay.ref,
                residence_kind="permanent",
                ground=ground[0],
            )
            stay.commune, stay.settled, stay.left = None, True, True
            later = self._day(on + timedelta(days=1), min(last, on + timedelta(days=30)))
            if ground[0] != "settled_abroad" and later is not None:
                self._abode(stay, later, *self._place(self._elsewhere(province, set(), 0.8)))

    def _temporary(self, stay: _Stay, province: str, first: date, last: date) -> None:
        rng, rates = self.rng, self.rates
        start = self._day(first, last - timedelta(days=1))
        if start is None:
            return
        commune, address = self._place(self._elsewhere(province, stay.communes, 0.4))
        room = (last - start).days
        extended = rng.random() < rates.extension and room > 75
        days = 60 + rng.randrange(room - 74) if extended else 90 + rng.randrange(641)
        until = min(start + timedelta(days=days), years_after(start, TEMPORARY_YEARS))
        self._row(
            "residence",
            "TTR",
            commune,
            start,
            person=stay.ref,
            residence_kind="temporary",
            commune=commune,
            address=address,
            until=until.isoformat(),
        )
        if extended:
            on = until - timedelta(days=rng.randrange(15))
            longer = on + timedelta(days=180 + rng.randrange(551))
            longer = min(longer, years_after(on, TEMPORARY_YEARS))
            self._row(
                "extend_residence", "GHTTR", commune, on, person=stay.ref, until=longer.isoformat()
            )
        elif rng.random() < rates.temporary_ended:
            ended = self._day(start + timedelta(days=1), min(until, last))
            if ended is not None:
                ground = rng.choice(TEMPORARY_END_GROUNDS)
                self._row(
                    "end_residence",
                    "XTTR",
                    commune,
                    ended,
                    person=stay.ref,
                    residence_kind="temporary",
                    ground=ground,
                )

    def _cleaning(self, stay: _Stay, start: date, last: date) -> None:
        """Records with a permanent residence are checked and confirmed; a few are proposed
        for deletion, and some of those proposals withdrawn."""
        rng, rates = self.rng, self.rates
        person = stay.person
        commune = stay.commune or next(iter(sorted(stay.communes)), None)
        if stay.commune is not None and stay.since is not None and rng.random() < rates.confirmed:
            on = self._day(stay.since, last)
            if on is not None:
                self._row("confirm_record", "XN", commune, on, person=stay.ref)
        if rng.random() < rates.proposed_deletion:
            on = self._day(max(start, _born(person)), last)
            if on is None:
                return
            reason = rng.choice(DELETION_REASONS)
            self._row("propose_deletion", "ĐNX", commune, on, person=stay.ref, reason=reason)
            if rng.random() < rates.proposal_withdrawn:
                later = self._day(on + timedelta(days=1), last)
                if later is not None:
                    self._row("withdraw_deletion_proposal", "RĐNX", commune, later, person=stay.ref)

    def _head_after_exit(self, head: _Stay, stays: list[_Stay]) -> None:
        """After the head's death or renunciation (which leaves the household without a
        head), an adult member who stays is named head, most often the spouse: a row placed
        after the head's."""
        person = head.person
        exit_on, household = person.exit_on, head.household
        if (
            not self.household_refs
            or exit_on is None
            or person.exit_row is None
            or household is None
            or head.relation != "head"
            or exit_on >= HORIZON
            or self.rng.random() >= self.rates.head_after_death
        ):
            return
        on = self._day(exit_on + timedelta(days=1), exit_on + timedelta(days=60))
        candidates = [
            s
            for s in stays
            if s is not head
            and s.household is household
            and not s.left
            and s.person.exit_on is None
            and on is not None
            and _adult(s.person, on)
        ]
        if on is None or not candidates:
            return
        successor = min(candidates, key=lambda s: (s.relation != "spouse", s.person.born))
        row = self._make(
            "change_head", "ĐCH", head.commune, on, household=household, head=successor.ref
        )
        self._after.append((person.exit_row, [row]))

    # ----------------------------------------------------------------- acts

    def _settle(
        self,
        stay: _Stay,
        on: date,
        commune: str,
        address: str,
        *,
        household: dict[str, str] | None = None,
        relation: str | None = None,
    ) -> dict[str, str]:
        """A permanent residence: a new household the person heads, or `household` joined
        with `relation`. Returns the act that set up the person's household."""
        fields: dict[str, Any] = {
            "person": stay.ref,
            "residence_kind": "permanent",
            "commune": commune,
            "address": address,
        }
        if household is None:
            fields["new_household"] = True
        else:
            fields["household"] = household
            fields["relation"] = relation
        row = self._row("residence", "TT", commune, on, **fields)
        if household is None:
            household = {"office": row["office"], "reference": row["reference"]}
        stay.commune, stay.address, stay.household = commune, address, household
        stay.relation = relation or "head"
        stay.since = stay.since or on
        stay.settled_on = on
        stay.communes.add(commune)
        return household

    def _abode(self, stay: _Stay, on: date, commune: str, address: str) -> None:
        row = self._row(
            "abode", "NOHT", commune, on, person=stay.ref, commune=commune, address=address
        )
        if self._certificates is not None and _nationality(stay.person) == "undetermined":
            self._abodes.append((row, stay, on))

    def _row(
        self, kind: str, prefix: str, police: str | None, on: date, **fields: Any
    ) -> dict[str, Any]:
        row = self._make(kind, prefix, police, on, **fields)
        self._acts.append((on, len(self._acts), row))
        return row

    def _make(
        self, kind: str, prefix: str, police: str | None, on: date, **fields: Any
    ) -> dict[str, Any]:
        """A row recorded by the police of the commune `police` (any, if the person has no
        residence)."""
        self.sequence += 1
        code = police or self.rng.choice(self.communes.codes)
        return {
            "kind": kind,
            "clerk": self._clerk(),
            "office": self._office(code),
            "reference": f"{prefix}-{on.year}-{self.sequence:09d}",
            **fields,
            "effective": on.isoformat(),
        }

    # ------------------------------------------------------------- drawing

    def _day(self, first: date, last: date) -> date | None:
        last = min(last, HORIZON)
        if last < first:
            return None
        return first + timedelta(days=self.rng.randrange((last - first).days + 1))

    def _commune_in(self, province: str) -> str:
        communes = self.communes
        return self.rng.choice(communes.by_province.get(province) or communes.codes)

    def _elsewhere(self, province: str, avoid: set[str], same_province: float) -> str:
        """Another commune than those in `avoid`: in `province` with that chance."""
        rng, communes = self.rng, self.communes
        while True:
            pool = communes.by_province.get(province) if rng.random() < same_province else None
            code = rng.choice(pool or communes.codes)
            if code not in avoid:
                return code

    def _place(self, commune: str) -> tuple[str, str]:
        return commune, self._address(commune)

    def _address(self, commune: str) -> str:
        number, group = 1 + self.rng.randrange(180), 1 + self.rng.randrange(30)
        if self.communes.names[commune].startswith("Xã"):
            return f"Số {number}, thôn {group}"
        return f"Số {number}, tổ dân phố {group}"

    def _office(self, commune: str) -> str:
        communes = self.communes
        return f"Công an {communes.names[commune]}, {communes.provinces[commune]}"

    def _clerk(self) -> str:
        rng = self.rng
        sex = rng.choice(("male", "female"))
        return (
            f"{rng.choices(list(FAMILY_NAMES), list(FAMILY_NAMES.values()))[0]} "
            f"{rng.choice(MIDDLE_NAMES[sex])} {rng.choice(GIVEN_NAMES[sex])}"
        )


def _born(person: _Person) -> date:
    """The latest date of birth the record has at any time: no act of the person before it."""
    return person.born_max or person.born


def _adult(person: _Person, on: date) -> bool:
    return age_on(_born(person), on) >= ADULT_AGE


def _nationality(person: _Person) -> str:
    """The nationality the person ends with (an undetermined one may be determined later)."""
    return "vietnamese" if person.determined else person.nationality


def _may_head(person: _Person, on: date) -> bool:
    return _adult(person, on) and _nationality(person) != "undetermined"


def _stays_after(person: _Person, start: date, emitted: int) -> bool:
    """Alive and a national (or resident) some weeks into the list, and their death or
    renunciation still to come in the file: the residence acts can precede it."""
    if person.exit_on is None:
        return True
    return (
        person.exit_on > start + timedelta(days=JOIN_DAYS + 4)
        and person.exit_due is not None
        and person.exit_due > emitted + 2
    )


def _home_for_good(stay: _Stay) -> tuple[dict[str, str], str, str, date] | None:
    """The household of a member who stays in it for good, where it is and since when: it
    keeps a member whatever the rows of others do, so a child can join it at any later row."""
    if (
        stay.person.exit_on is not None
        or stay.left
        or stay.household is None
        or stay.commune is None
        or stay.settled_on is None
    ):
        return None
    return stay.household, stay.commune, stay.address, stay.settled_on


def _relation(person: _Person, head: _Person, parents: list[_Person]) -> str:
    """A member's relation to the head: the parents' children, or the siblings of an adult
    child who heads the household of parents who cannot."""
    head_is_parent = any(head is p for p in parents)
    if any(person is p for p in parents):
        return "spouse" if head_is_parent else "parent"
    return "child" if head_is_parent else "sibling"
