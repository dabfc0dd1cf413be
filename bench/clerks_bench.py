"""What binding acts to logins costs: one act as an enrolled clerk against the same act as the
tables' owner through the same append function, and `audit verify`'s check of the clerks
against its Merkle recomputation, on the same store in the same run.

    python -m bench.clerks_bench [--acts N]

The owner's acts take the append function too (`POSTGRES_APPEND_ROUTE=definer`), so the ratio
is what the clerk adds: reading its enrolment before each act. The acts alternate between the
two, so a change in the machine's load weighs on both alike.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import statistics
import time
from typing import Any

import psycopg
from psycopg import sql

from application.clerks import ClerkRoster
from application.register import CivilRegister
from audit.clerks import check_clerks
from audit.log import TABLES, MerkleLogProjection
from bench.bulk_support import ADMIN_URL, create_database, drop_database, machine, save_results
from domain.commands import Clerking, RegisterBirth
from infrastructure.store_url import StoreURL

CLERK = ("Trần Thị Hoa", "UBND phường Cửa Nam, Hà Nội")


def as_login(url: str, login: str) -> str:
    store = StoreURL.parse(url)
    return f"postgresql://{login}@{store.host}:{store.port}/{store.dbname}"


def one_act(register: CivilRegister, reference: str) -> float:
    act = RegisterBirth.parse(
        name="Nguyễn Văn An", sex="male", born="1990-05-01", province="001",
        registered_on="1990-05-20",
    )  # fmt: skip
    clerking = Clerking.parse(clerk=CLERK[0], office=CLERK[1], reference=reference)
    started = time.perf_counter()
    register.register_birth(act, clerking)
    return time.perf_counter() - started


def timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def group_roles() -> set[str]:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
            (["civledger_clerk", "civledger_auditor"],),
        ).fetchall()
    return {str(row[0]) for row in rows}


def run(acts: int) -> dict[str, Any]:
    url = create_database("civledger_bench_clerks")
    login = f"bench_clerk_{secrets.token_hex(4)}"
    existing = group_roles()
    try:
        owner = CivilRegister(url, env={"POSTGRES_APPEND_ROUTE": "definer"})
        MerkleLogProjection(owner).ensure_tables()
        owner.recorder.create_roles(readable_tables=TABLES)  # type: ignore[attr-defined]
        ClerkRoster(owner, owner).enrol(login, *CLERK)
        clerk = CivilRegister(as_login(url, login))
        for n in range(10):  # warm up both
            one_act(owner, f"W-O-{n}")
            one_act(clerk, f"W-C-{n}")
        as_owner: list[float] = []
        as_clerk: list[float] = []
        for n in range(acts):
            as_owner.append(one_act(owner, f"O-{n}"))
            as_clerk.append(one_act(clerk, f"C-{n}"))
        clerk.close()
        projection = MerkleLogProjection(owner)
        projection.checkpoint()
        merkle_s, verified = timed(projection.verify)
        clerks_s, checked = timed(lambda: check_clerks(owner, verified.events))
        owner.close()
        owner_p50 = statistics.median(as_owner) * 1000
        clerk_p50 = statistics.median(as_clerk) * 1000
        return {
            "machine": machine(),
            "acts_each": acts,
            "owner_act_p50_ms": round(owner_p50, 2),
            "clerk_act_p50_ms": round(clerk_p50, 2),
            "clerk_over_owner": round(clerk_p50 / owner_p50, 2),
            "events": verified.events,
            "rows_checked": checked.checked,
            "merkle_verify_s": round(merkle_s, 3),
            "clerks_check_s": round(clerks_s, 3),
            "clerks_over_merkle": round(clerks_s / merkle_s, 2),
        }
    finally:
        drop_database(url)
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
            for role in group_roles() - existing:  # made here; another database may use it
                with contextlib.suppress(psycopg.errors.DependentObjectsStillExist):
                    conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--acts", type=int, default=200, help="acts by each of the two logins")
    document = run(parser.parse_args().acts)
    path = save_results("clerks", document)
    for key, value in document.items():
        if key != "machine":
            print(f"{key}: {value}")
    print(f"saved {path}")


if __name__ == "__main__":
    main()
