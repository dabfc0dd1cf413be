"""Concurrent writers in separate OS processes, against real PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from application.register import CivilRegister
from domain.commands import Clerking, RegisterBirth

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BIRTHS_WORKER = textwrap.dedent(
    """
    import json, sys
    from application.register import CivilRegister
    from domain.commands import Clerking, RegisterBirth
    url, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    register = CivilRegister(url)
    numbers = []
    for i in range(count):
        act = RegisterBirth.parse(name=f"Phạm Văn {worker}-{i}", sex="male",
                                  born="2001-05-05", province="079")
        clerking = Clerking.parse(clerk="w", office=f"HCM-{worker}", reference=f"KS-{i}")
        numbers.append(register.register_birth(act, clerking).person.id_number)
    print(json.dumps(numbers))
    """
)

DEATH_WORKER = textwrap.dedent(
    """
    import sys
    from application.register import CivilRegister
    from domain.commands import Clerking, RecordDeath
    from domain.errors import RuleBroken
    url, number, worker = sys.argv[1], sys.argv[2], sys.argv[3]
    act = RecordDeath.parse(person=number, died_on=f"2020-01-0{worker}")
    try:
        CivilRegister(url).record_death(act, Clerking.parse(clerk="w", office="HN",
                                                            reference=f"KT-{worker}"))
    except RuleBroken:
        print("refused")
    else:
        print("recorded")
    """
)


def run_parallel(script: str, argv_list: list[list[str]]) -> list[str]:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argv_list
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        outputs.append(out.strip())
    return outputs


def test_eight_processes_never_share_a_number(postgres_url: str) -> None:
    CivilRegister(postgres_url).close()  # create the schema once, before the race
    outputs = run_parallel(BIRTHS_WORKER, [[postgres_url, str(w), "200"] for w in range(8)])
    numbers = [n for out in outputs for n in json.loads(out)]
    assert len(numbers) == 1600
    assert len(set(numbers)) == 1600
    assert all(n.startswith("079201") for n in numbers)
    register = CivilRegister(postgres_url)
    people = {register.person(n).id for n in numbers}
    assert len(people) == 1600


def test_conflicting_deaths_of_one_person_never_both_succeed(postgres_url: str) -> None:
    register = CivilRegister(postgres_url)
    act = RegisterBirth.parse(name="Lê Văn Cường", sex="male", born="1950-01-01", province="001")
    number = (
        register.register_birth(
            act, Clerking.parse(clerk="w", office="HN", reference="KS-1")
        ).person.id_number
        or ""
    )
    outcomes = run_parallel(DEATH_WORKER, [[postgres_url, number, str(w)] for w in range(1, 7)])
    assert outcomes.count("recorded") == 1
    assert outcomes.count("refused") == 5
    deaths = [e for e in register.history(number) if type(e.event).__name__ == "DeathRegistered"]
    assert len(deaths) == 1
