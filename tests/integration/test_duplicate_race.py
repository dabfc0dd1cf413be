"""The possible-duplicate check holds under concurrency: eight clerks in eight processes
register the same person at the same moment (same name, date of birth and province, each
under their own reference and office); one birth is recorded, seven are refused. Births of
different people at the same moment are all recorded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from application.register import CivilRegister

pytestmark = pytest.mark.slow

#: A clerk's birth as `register-birth` makes it (the register with the read model's
#: possible-duplicate finder), started at the same instant in every process.
WORKER = textwrap.dedent(
    """
    import sys, time
    from application.register import CivilRegister
    from domain.commands import Clerking, RegisterBirth
    from domain.errors import RuleBroken
    from projections.queries import PossibleDuplicateFinder
    url, worker, start, same = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    finder = PossibleDuplicateFinder(url)
    register = CivilRegister(url, duplicates=finder)
    name = "Đặng Thị Mai" if same == "same" else f"Đặng Thị Mai {worker}"
    act = RegisterBirth.parse(name=name, sex="female", born="1995-09-02", province="001")
    clerking = Clerking.parse(clerk=f"clerk {worker}", office=f"HN-{worker}",
                              reference=f"KS-{worker}")
    while time.time() < start:
        pass
    try:
        register.register_birth(act, clerking)
    except RuleBroken as refused:
        print("refused:", refused.message)
    else:
        print("recorded")
    finder.close()
    """
)


def race(url: str, same: str) -> list[str]:
    CivilRegister(url).close()  # the schema exists before the race
    start = time.time() + 4  # time for all eight interpreters to start and import
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, str(worker), str(start), same],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(8)
    ]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        outcomes.append(out.strip())
    return outcomes


def test_eight_clerks_registering_one_person_at_once_record_one_birth(store_url: str) -> None:
    outcomes = race(store_url, "same")
    assert outcomes.count("recorded") == 1, outcomes
    refusals = [o for o in outcomes if o.startswith("refused:")]
    assert len(refusals) == 7, outcomes
    assert all("possible duplicate of 001195" in o for o in refusals)


def test_eight_clerks_registering_different_people_at_once_record_all(store_url: str) -> None:
    assert race(store_url, "different") == ["recorded"] * 8
