"""A connection cut by `pg_terminate_backend` while a clerk's act is being written."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.faults.cluster import Cluster
from tests.faults.conftest import birth_args, civledger, running_cluster, start_civledger

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[Cluster]:
    """One cluster for this module: its tests leave the servers as they found them."""
    with running_cluster() as cluster:
        yield cluster


def wait_for_backend(conninfo: str, wait_event: str, timeout: float = 30) -> int:
    """The pid of the civledger backend waiting on `wait_event`."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = 'civledger' "
                "AND wait_event = %s AND pid <> pg_backend_pid()",
                (wait_event,),
            ).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError(f"no backend waited on {wait_event} within {timeout}s")


def wait_for_no_backend(conninfo: str, wait_event: str, timeout: float = 30) -> None:
    """Wait until no backend waits on `wait_event` any more."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = %s", (wait_event,)
            ).fetchone()
            if row and row[0] == 0:
                return
            time.sleep(0.05)
    raise AssertionError(f"backends still waited on {wait_event} after {timeout}s")


def wait_for_act_commit(conninfo: str, timeout: float = 30) -> int:
    """The pid of the backend whose COMMIT of new events waits for the synchronous standby.

    It is the one waiting on SyncRep while it holds the event log's write lock, which the
    store keeps until its commit completes; other commits (read models) hold no such lock.
    """
    deadline = time.monotonic() + timeout
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
                "WHERE a.wait_event = 'SyncRep' AND l.granted AND l.mode = 'ExclusiveLock' "
                "AND l.relation = 'civledger_events'::regclass"
            ).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError(f"no commit of new events waited for the standby within {timeout}s")


def terminate(conninfo: str, pid: int) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def set_standby_names(conninfo: str, value: str | None) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if value is None:
            conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
        else:
            conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{value}'")
        conn.execute("SELECT pg_reload_conf()")


def recorded(conninfo: str, event: str, reference: str) -> int:
    """How many `event` events carry this act reference (it must be 0 or 1)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM civledger_events "
            "WHERE topic LIKE %s AND convert_from(state, 'UTF8') LIKE %s",
            (f"%{event}%", f'%"reference":"{reference}"%'),
        ).fetchone()
    assert row is not None
    return int(row[0])


def births_recorded(conninfo: str, reference: str) -> int:
    return recorded(conninfo, "BirthRegistered", reference)


def register_person(store: str, reference: str) -> str:
    """Register a birth the ordinary way; its ID number."""
    done = civledger(*birth_args(reference), store=store)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def death_args(number: str, reference: str) -> list[str]:
    return ["record-death", number, "--died-on", "2026-01-15", "--reference", reference]


def test_a_cut_while_commit_is_in_flight_says_outcome_unknown_and_a_retry_finds_it_recorded(
    pg_cluster: Cluster,
) -> None:
    primary = pg_cluster.primary
    store = primary.url()
    number = register_person(store, "KS-CUT-1")
    # With the synchronous standby "gone", COMMIT waits (wait event SyncRep) after the
    # transaction has committed locally: the exact moment whose outcome the clerk cannot know.
    set_standby_names(primary.conninfo(), "absent")
    try:
        clerk = start_civledger(*death_args(number, "KT-CUT-1"), store=store)
        terminate(primary.conninfo(), wait_for_act_commit(primary.conninfo()))
        out, err = clerk.communicate(timeout=120)
    finally:
        set_standby_names(primary.conninfo(), None)

    assert clerk.returncode == 1, err
    assert "outcome is unknown" in err
    assert "outcome unknown, a retry is safe" in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""

    retry = civledger(*death_args(number, "KT-CUT-1"), store=store)
    assert retry.returncode == 0, retry.stderr
    assert "already recorded" in retry.stderr
    assert retry.stdout.strip() == f"{number} deceased on 2026-01-15"
    assert recorded(primary.conninfo(), "DeathRegistered", "KT-CUT-1") == 1


def test_a_cut_before_commit_is_retried_by_the_store_and_records_the_act_once(
    pg_cluster: Cluster,
) -> None:
    primary = pg_cluster.primary
    store = primary.url()
    with psycopg.connect(primary.conninfo()) as blocker:
        # Hold the log's write lock: the clerk's transaction blocks inside, before COMMIT.
        blocker.execute("LOCK TABLE civledger_events IN EXCLUSIVE MODE")
        clerk = start_civledger(*birth_args("KS-CUT-2"), store=store)
        terminate(primary.conninfo(), wait_for_backend(primary.conninfo(), "relation"))
        # The server rolled the cut transaction back; the store retries on a new connection
        # and waits for the lock again.
        wait_for_backend(primary.conninfo(), "relation")
        blocker.rollback()
    out, err = clerk.communicate(timeout=120)

    assert clerk.returncode == 0, err
    assert out.strip().isdigit()
    assert births_recorded(primary.conninfo(), "KS-CUT-2") == 1
    retry = civledger(*birth_args("KS-CUT-2"), store=store)
    assert retry.returncode == 0
    assert "already recorded" in retry.stderr
    assert retry.stdout == out


def test_a_cut_during_every_phase_of_a_busy_clerk_never_records_an_act_twice(
    pg_cluster: Cluster,
) -> None:
    primary = pg_cluster.primary
    store = primary.url()
    references = [f"KS-STORM-{n}" for n in range(4)]
    outcomes: dict[str, int] = {}
    with psycopg.connect(primary.conninfo(), autocommit=True) as killer:
        for reference in references:
            clerk = start_civledger(*birth_args(reference), store=store)
            while clerk.poll() is None:
                killer.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = 'civledger' AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'"
                )
                time.sleep(0.01)
            _, err = clerk.communicate()
            outcomes[reference] = clerk.returncode
            if clerk.returncode != 0:
                assert clerk.returncode == 1, err
    for reference in references:
        retry = civledger(*birth_args(reference), store=store)
        assert retry.returncode == 0, retry.stderr
        assert births_recorded(primary.conninfo(), reference) == 1
    assert set(outcomes.values()) <= {0, 1}
    verify = civledger("audit", "verify", store=store)
    assert verify.returncode == 0, verify.stdout + verify.stderr
