"""Processes killed with SIGKILL in the middle of a write: no act is ever half recorded."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from application.register import CivilRegister
from tests.faults.cluster import Cluster
from tests.faults.conftest import ROOT, birth_args, civledger, clerk_env, start_civledger
from tests.faults.invariants import birth_state, log_positions
from tests.faults.test_connection_cut import (
    death_args,
    recorded,
    register_person,
    set_standby_names,
    wait_for_act_commit,
    wait_for_backend,
    wait_for_no_backend,
)

#: A writer that records births as fast as it can, printing each acknowledged reference.
WRITER = textwrap.dedent(
    """
    import itertools, sys
    from application.register import CivilRegister
    from domain.commands import Clerking, RegisterBirth
    from tests.faults.conftest import birth_of

    register = CivilRegister(sys.argv[1])
    for n in itertools.count():
        reference = f"KS-W-{n}"
        act = RegisterBirth.parse(province="001", **birth_of(reference))
        clerking = Clerking.parse(clerk="writer", office="HN-01", reference=reference)
        register.register_birth(act, clerking)
        print(reference, flush=True)
    """
)


@pytest.mark.postgres
@pytest.mark.slow
def test_a_clerk_killed_inside_its_write_transaction_leaves_the_act_absent(
    pg_cluster: Cluster,
) -> None:
    primary = pg_cluster.primary
    store = primary.url()
    with psycopg.connect(primary.conninfo()) as blocker:
        blocker.execute("LOCK TABLE civledger_events IN EXCLUSIVE MODE")
        clerk = start_civledger(*birth_args("KS-KILL-1"), store=store)
        wait_for_backend(primary.conninfo(), "relation")
        clerk.send_signal(signal.SIGKILL)
        clerk.communicate(timeout=30)
        blocker.rollback()

    with CivilRegister(store) as register:
        assert birth_state(register, "KS-KILL-1") is False
    retry = civledger(*birth_args("KS-KILL-1"), store=store)
    assert retry.returncode == 0, retry.stderr
    assert "already recorded" not in retry.stderr
    with CivilRegister(store) as register:
        assert birth_state(register, "KS-KILL-1") is True


@pytest.mark.postgres
@pytest.mark.slow
def test_a_clerk_killed_while_its_commit_waits_for_the_standby_leaves_the_whole_act(
    pg_cluster: Cluster,
) -> None:
    primary = pg_cluster.primary
    store = primary.url()
    number = register_person(store, "KS-KILL-2")
    set_standby_names(primary.conninfo(), "absent")
    clerk = start_civledger(*death_args(number, "KT-KILL-2"), store=store)
    wait_for_act_commit(primary.conninfo())
    clerk.send_signal(signal.SIGKILL)
    clerk.communicate(timeout=30)
    # The backend outlives its client: once the standby is back it finishes the commit.
    set_standby_names(primary.conninfo(), None)
    wait_for_no_backend(primary.conninfo(), "SyncRep")

    assert recorded(primary.conninfo(), "DeathRegistered", "KT-KILL-2") == 1
    with CivilRegister(store) as register:
        assert register.person(number).died_on is not None
    retry = civledger(*death_args(number, "KT-KILL-2"), store=store)
    assert retry.returncode == 0, retry.stderr
    assert "already recorded" in retry.stderr
    assert recorded(primary.conninfo(), "DeathRegistered", "KT-KILL-2") == 1


def run_writer_until_killed(store: str, acknowledged_at_least: int) -> list[str]:
    """Start the fast writer, SIGKILL it once it has acknowledged enough acts."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, store],
        cwd=ROOT,
        env=clerk_env(store),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    acknowledged: list[str] = []
    for line in writer.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) >= acknowledged_at_least:
            writer.send_signal(signal.SIGKILL)
            break
    rest, err = writer.communicate(timeout=30)
    acknowledged.extend(line for line in rest.split() if line)
    assert writer.returncode == -signal.SIGKILL, err
    return acknowledged


@pytest.mark.slow
def test_a_sqlite_writer_killed_mid_transaction_leaves_a_valid_database(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    store = f"sqlite:///{path}"
    assert civledger("init", store=store).returncode == 0
    acknowledged = run_writer_until_killed(store, acknowledged_at_least=40)

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    with CivilRegister(store) as register:
        with register.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 2  # FULL
        for reference in acknowledged:
            assert birth_state(register, reference) is True
        following = f"KS-W-{len(acknowledged)}"
        interrupted = birth_state(register, following)  # whole or absent, never half
        positions = log_positions(register)
    assert positions == sorted(set(positions))
    assert len(positions) == 4 * (len(acknowledged) + int(interrupted))
    verify = civledger("audit", "verify", store=store)
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.postgres
@pytest.mark.slow
def test_a_postgres_writer_killed_at_an_arbitrary_moment_leaves_every_act_whole_or_absent(
    pg_cluster: Cluster,
) -> None:
    store = pg_cluster.primary.url()
    acknowledged = run_writer_until_killed(store, acknowledged_at_least=25)
    with CivilRegister(store) as register:
        for reference in acknowledged:
            assert birth_state(register, reference) is True
        interrupted = birth_state(register, f"KS-W-{len(acknowledged)}")
        positions = log_positions(register)
    assert positions == sorted(set(positions))
    assert len(positions) == 4 * (len(acknowledged) + int(interrupted))
