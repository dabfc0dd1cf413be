"""A register whose people have varied card histories, recorded through the application's one
decision path (`CivilRegister.execute`), and counts made from the replayed records."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any
from uuid import UUID

from application.register import CivilRegister
from domain.commands import (
    ChangeRecord,
    Clerking,
    Command,
    CreateEid,
    IssueCard,
    LockEid,
    MergeDuplicate,
    RecordDeath,
    RegisterBirth,
    RenounceNationality,
    ReturnCard,
    RevokeCard,
    UnlockEid,
    WithholdCard,
)
from domain.person import Person
from domain.residence import age_on


class CardClerk:
    """Records acts with fresh references at one office."""

    def __init__(self, register: CivilRegister) -> None:
        self.register = register
        self.count = 0

    def act(self, command: Command) -> Person:
        self.count += 1
        basis = Clerking.parse(clerk="Lê Thị Lan", office="HN-BADINH", reference=f"C-{self.count}")
        return self.register.execute(command, basis).person

    def birth(
        self,
        name: str,
        born: str,
        province: str = "001",
        sex: str = "male",
        nationality: str = "vietnamese",
    ) -> str:
        """A birth; the person's UUID as text (their number may change later)."""
        person = self.act(
            RegisterBirth.parse(
                name=name,
                sex=sex,
                born=born,
                province=province,
                nationality=nationality,
                registered_on=born,
            )
        )
        return str(person.id)

    def card(self, who: str, reason: str, on: str) -> None:
        self.act(IssueCard.parse(person=who, reason=reason, effective=on))

    def revoke(self, who: str, ground: str, on: str) -> None:
        self.act(RevokeCard.parse(person=who, ground=ground, effective=on))

    def withhold(self, who: str, ground: str, on: str) -> None:
        self.act(WithholdCard.parse(person=who, ground=ground, effective=on))

    def give_back(self, who: str, on: str) -> None:
        self.act(ReturnCard.parse(person=who, effective=on))

    def eid(self, who: str, on: str) -> None:
        self.act(CreateEid.parse(person=who, effective=on))

    def lock(self, who: str, ground: str, on: str) -> None:
        self.act(LockEid.parse(person=who, ground=ground, effective=on))

    def unlock(self, who: str, on: str) -> None:
        self.act(UnlockEid.parse(person=who, effective=on))

    def death(self, who: str, on: str) -> None:
        self.act(RecordDeath.parse(person=who, died_on=on))

    def renounce(self, who: str, on: str) -> None:
        self.act(RenounceNationality.parse(person=who, effective=on))

    def change(self, who: str, field: str, value: str, on: str, kind: str = "correction") -> None:
        self.act(ChangeRecord.parse(person=who, field=field, value=value, kind=kind, effective=on))

    def merge(self, who: str, into: str) -> None:
        self.act(MergeDuplicate.parse(person=who, into=into))


def card_histories(clerk: CardClerk) -> dict[str, str]:
    """People (by label, as UUID text) with every kind of card history."""
    people: dict[str, str] = {}

    def born(label: str, *args: Any, **kwargs: Any) -> str:
        people[label] = clerk.birth(*args, **kwargs)
        return people[label]

    valid = born("valid", "Nguyễn Văn An", "1990-03-04")
    clerk.card(valid, "first", "2021-04-01")
    clerk.eid(valid, "2021-05-01")

    corrected = born("corrected", "Trần Thị Bình", "2008-05-10", "079", sex="female")
    clerk.card(corrected, "first", "2022-06-01")
    clerk.change(corrected, "name", "Trần Thị Bính", "2024-01-01")

    expired = born("expired", "Lê Văn Cường", "1962-01-01", "048")
    clerk.card(expired, "first", "2016-01-05")

    revoked = born("revoked", "Phạm Minh Dũng", "1980-01-01")
    clerk.card(revoked, "first", "2021-01-01")
    clerk.revoke(revoked, "issued_wrongly", "2022-01-01")

    returned = born("returned", "Đỗ Thị Hà", "1985-07-08", sex="female")
    clerk.card(returned, "first", "2021-02-02")
    clerk.eid(returned, "2021-03-01")
    clerk.withhold(returned, "custody", "2022-01-01")
    clerk.give_back(returned, "2022-06-01")

    withheld = born("withheld", "Hoàng Văn Khoa", "1988-08-08", "079")
    clerk.card(withheld, "first", "2021-02-03")
    clerk.eid(withheld, "2021-03-02")
    clerk.withhold(withheld, "prison", "2023-03-03")

    renounced = born("renounced", "Vũ Thị Lan", "1970-02-02", sex="female")
    clerk.card(renounced, "first", "2021-05-05")
    clerk.eid(renounced, "2021-06-06")
    clerk.renounce(renounced, "2023-01-01")

    dead = born("dead", "Bùi Văn Minh", "1975-01-01", "048")
    clerk.card(dead, "first", "2021-07-07")
    clerk.eid(dead, "2021-08-08")
    clerk.death(dead, "2024-02-02")

    reissued = born("reissued", "Ngô Văn Nam", "1995-09-09")
    clerk.card(reissued, "first", "2021-09-09")
    clerk.change(reissued, "born", "1994-09-09", "2025-01-15")

    child = born("child", "Đặng Thu Oanh", "2015-01-01", "079", sex="female")
    clerk.card(child, "request", "2021-01-01")

    born("no_card_adult", "Lý Văn Phúc", "2000-01-01", "048")
    born("no_card_child", "Lý Văn Quý", "2016-02-02", "048")
    born("undetermined", "Mai Thị Rạng", "1999-04-04", nationality="undetermined")

    lost = born("lost", "Tạ Văn Sơn", "1983-03-03")
    clerk.card(lost, "first", "2021-03-03")
    clerk.card(lost, "lost", "2023-03-03")

    renewed = born("renewed", "Cao Văn Tâm", "1982-06-15", "079")
    clerk.card(renewed, "first", "2016-01-01")
    clerk.card(renewed, "age", "2022-07-01")

    locked = born("locked", "Kiều Thị Uyên", "1991-11-11", sex="female")
    clerk.card(locked, "first", "2021-11-11")
    clerk.eid(locked, "2021-12-12")
    clerk.lock(locked, "request", "2022-02-02")

    unlocked = born("unlocked", "Kiều Văn Vinh", "1992-12-12")
    clerk.card(unlocked, "first", "2021-12-12")
    clerk.eid(unlocked, "2022-01-01")
    clerk.lock(unlocked, "request", "2022-02-02")
    clerk.unlock(unlocked, "2022-03-03")

    duplicate = born("duplicate", "Nguyen Van An", "1990-03-04")
    clerk.card(duplicate, "first", "2021-04-02")
    clerk.merge(duplicate, into=valid)

    soon = born("soon", "Trịnh Văn Xuân", "2001-07-01", "079")
    clerk.card(soon, "first", "2021-07-01")  # 20: runs to 25 (2026-06-30)
    return people


def replayed(register: CivilRegister, ids: Iterable[str]) -> list[Person]:
    return [register.person(UUID(each)) for each in ids]


def recount(people: Iterable[Person], on: date) -> dict[str, int]:
    """The report's `cards` counts made from replayed records, one by one."""
    counts = dict.fromkeys(
        (
            "valid",
            "expired",
            "renewal_due",
            "revoked",
            "withheld",
            "citizens_14_and_over_without_valid_card",
            "eids_active",
            "eids_locked",
        ),
        0,
    )
    for person in people:
        eid = person.identity.eid_document()
        if eid is not None:
            counts[f"eids_{eid['status']}"] += 1
        living = person.merged_into is None and (person.died_on is None or person.died_on > on)
        if not living:
            continue
        status = str(person.card_document(on)["status"])
        if status in counts:
            counts[status] += 1
        if (
            person.nationality.value == "vietnamese"
            and person.id_number is not None
            and age_on(person.born, on) >= 14
            and status in ("none", "expired", "revoked")
        ):
            counts["citizens_14_and_over_without_valid_card"] += 1
    return counts
