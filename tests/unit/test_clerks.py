"""The clerks' rules, each alone, and the Merkle leaf that names a row's login."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from audit.proofs import LEAF_FORMAT, LEAF_FORMAT_WITH_LOGIN, EventLeaf
from domain.aggregate import ActBasis
from domain.clerks import (
    ActsUnderOwnEnrolment,
    ClerkEnrolment,
    EnrolmentTimeline,
    LoginIsAPlainRoleName,
)
from domain.errors import InvalidInput, RuleBroken
from domain.events import ClerkEvent

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
BASIS = ActBasis("operator", "", "enrol", NOW)


def enrolled(login: str = "lan_le", office: str = "HN-BADINH") -> ClerkEnrolment:
    enrolment = ClerkEnrolment.of(login)
    assert enrolment.enrol(login, "Lê Thị Lan", office, date(2026, 3, 4), "postgres", BASIS)
    return enrolment


@pytest.mark.parametrize(
    "login", ["Lan", "1lan", "pg_lan", "lan-le", "lê", "", "x" * 64, "civledger_clerk"]
)
def test_a_login_that_is_not_a_plain_role_name_or_is_a_group_is_refused(login: str) -> None:
    with pytest.raises(InvalidInput):
        LoginIsAPlainRoleName.check(login)


def test_a_plain_login_is_accepted() -> None:
    assert LoginIsAPlainRoleName.check("lan_le_2") == "lan_le_2"


def test_enrolling_again_alike_records_nothing_and_elsewhere_is_refused() -> None:
    enrolment = enrolled()
    enrolment.collect_events()
    assert not enrolment.enrol("lan_le", "Lê  Thị Lan ", "HN-BADINH", date(2026, 3, 5), "x", BASIS)
    assert enrolment.pending_events == []
    with pytest.raises(RuleBroken, match="retire it first"):
        enrolment.enrol("lan_le", "Lê Thị Lan", "HCM-Q1", date(2026, 3, 5), "x", BASIS)


def test_a_retired_login_may_be_enrolled_again_for_another_office() -> None:
    enrolment = enrolled()
    enrolment.retire("lan_le", date(2026, 4, 1), "postgres", BASIS)
    assert enrolment.enrol("lan_le", "Lê Thị Lan", "HCM-Q1", date(2026, 4, 2), "postgres", BASIS)
    assert enrolment.current is not None
    assert (enrolment.current.office, enrolment.current.active) == ("HCM-Q1", True)
    assert [p.retired_on for p in enrolment.periods] == [date(2026, 4, 1), None]


def test_only_an_enrolment_in_force_can_be_retired() -> None:
    with pytest.raises(RuleBroken, match="not enrolled"):
        ClerkEnrolment.of("lan_le").retire("lan_le", date(2026, 4, 1), "postgres", BASIS)
    enrolment = enrolled()
    enrolment.retire("lan_le", date(2026, 4, 1), "postgres", BASIS)
    with pytest.raises(RuleBroken, match="already retired on 2026-04-01"):
        enrolment.retire("lan_le", date(2026, 4, 2), "postgres", BASIS)


def test_an_act_must_name_the_clerk_and_office_of_the_logins_enrolment() -> None:
    current = enrolled().current
    ActsUnderOwnEnrolment.check("lan_le", current, "Lê Thị Lan", "HN-BADINH")
    for clerk, office in (("Trần Văn Minh", "HN-BADINH"), ("Lê Thị Lan", "HCM-Q1")):
        with pytest.raises(RuleBroken, match="enrolled as clerk Lê Thị Lan at office HN-BADINH"):
            ActsUnderOwnEnrolment.check("lan_le", current, clerk, office)
    with pytest.raises(RuleBroken, match="not enrolled"):
        ActsUnderOwnEnrolment.check("lan_le", None, "Lê Thị Lan", "HN-BADINH")


def test_a_retired_login_records_nothing_even_under_its_own_name() -> None:
    enrolment = enrolled()
    enrolment.retire("lan_le", date(2026, 4, 1), "postgres", BASIS)
    with pytest.raises(RuleBroken, match="retired on 2026-04-01"):
        ActsUnderOwnEnrolment.check("lan_le", enrolment.current, "Lê Thị Lan", "HN-BADINH")


def test_the_timeline_answers_the_enrolment_in_force_at_each_position() -> None:
    enrolment = enrolled()
    enrolment.retire("lan_le", date(2026, 4, 1), "postgres", BASIS)
    enrolment.enrol("lan_le", "Lê Thị Lan", "HCM-Q1", date(2026, 4, 2), "postgres", BASIS)
    events = [e for e in enrolment.collect_events() if isinstance(e, ClerkEvent)]
    assert len(events) == 3
    timeline = EnrolmentTimeline(zip([10, 20, 30], events, strict=True))
    assert timeline.at(5) is None
    assert timeline.at(10) is None  # the enrolment itself is not under it
    first, later = timeline.at(15), timeline.at(31)
    assert first is not None
    assert first.office == "HN-BADINH"
    assert timeline.at(25) is None
    assert later is not None
    assert later.office == "HCM-Q1"


LEAF = EventLeaf.of_stored(7, UUID(int=1), 1, "civledger.person.BirthRegistered", b"state")


def test_a_row_without_a_login_keeps_the_format_1_leaf_byte_for_byte() -> None:
    assert LEAF.encode()[0] == LEAF_FORMAT
    assert LEAF.document().keys() == {
        "position", "originator_id", "version", "topic", "state_sha256"
    }  # fmt: skip
    assert EventLeaf.from_document(LEAF.document()).hash() == LEAF.hash()


def test_the_login_is_part_of_the_format_2_leaf() -> None:
    lan = EventLeaf.of_stored(
        7, UUID(int=1), 1, "civledger.person.BirthRegistered", b"state", "lan_le"
    )
    minh = EventLeaf.of_stored(
        7, UUID(int=1), 1, "civledger.person.BirthRegistered", b"state", "minh_tran"
    )
    assert lan.encode()[0] == LEAF_FORMAT_WITH_LOGIN
    assert lan.encode().startswith(bytes([LEAF_FORMAT_WITH_LOGIN]) + LEAF.encode()[1:])
    assert lan.encode().endswith(b"\x00\x06lan_le")
    assert len({LEAF.hash(), lan.hash(), minh.hash()}) == 3
    assert lan.document()["recorded_by"] == "lan_le"
    assert EventLeaf.from_document(lan.document()).hash() == lan.hash()
