"""The primary dies (`kill -9` of its postmaster); the synchronous standby takes over.

Every act acknowledged before the crash must be on the promoted standby, and a re-run of the
interrupted work there must leave every act recorded exactly once.
"""

from __future__ import annotations

import collections
import json
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from application.register import CivilRegister
from tests.faults.cluster import Cluster
from tests.faults.conftest import birth_args, civledger, start_civledger
from tests.faults.invariants import (
    TailingReader,
    assert_models_equal_a_rebuild,
    assert_saw_everything_once,
    audit_verifies,
    birth_state,
    log_positions,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

#: A clerk facing a dead primary gives up after about ten one-second connection attempts.
FAST_GIVE_UP: dict[str, Any] = {"CIVLEDGER_CONNECT_TIMEOUT": "1"}


def events_by_type(conninfo: str) -> dict[str, int]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT topic, count(*) FROM civledger_events GROUP BY topic"
        ).fetchall()
    return {str(topic).rsplit(".", 1)[-1]: int(count) for topic, count in rows}


def test_primary_killed_during_an_import_then_the_rerun_on_the_promoted_standby_has_every_row_once(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    primary, standby = pg_cluster.primary, pg_cluster.standby
    acts = tmp_path / "acts.jsonl"
    generated = civledger(
        "generate", "--people", "6000", "--seed", "11", "--out", str(acts), store=primary.url()
    )
    assert generated.returncode == 0, generated.stderr
    rows = [json.loads(line) for line in acts.read_text().splitlines()]
    kinds = collections.Counter(row["kind"] for row in rows)

    reader = TailingReader(standby.url())
    reader.start()
    importing = start_civledger(
        "import", str(acts), "--batch", "100", "--json", store=primary.url(), **FAST_GIVE_UP
    )
    wait_until(lambda: len(reader.seen) > 2000, 120, "the standby to replay 2000 events")
    assert importing.poll() is None, "the import finished before the fault; make it longer"
    pg_cluster.kill_primary()
    seen_before_crash = list(reader.seen)
    out, err = importing.communicate(timeout=180)
    assert importing.returncode == 1, out + err
    assert len(err.strip().splitlines()) == 1

    pg_cluster.promote()
    new_primary = standby.url()
    rerun = civledger("import", str(acts), "--batch", "500", "--json", store=new_primary)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["rejected"] == 0
    assert report["recorded"] + report["already_recorded"] == len(rows)
    assert report["already_recorded"] > 0

    counts = events_by_type(standby.conninfo())
    assert counts["ActRecorded"] == len(rows)
    assert counts["BirthRegistered"] == kinds["birth"]
    assert counts["DeathRegistered"] == kinds["death"]
    assert counts["NationalityRenounced"] == kinds["renunciation"]
    assert counts["MergedAsDuplicate"] == kinds["merge"]

    with CivilRegister(new_primary) as register:
        positions = log_positions(register)
    assert set(seen_before_crash) <= set(positions)
    reader.stop_at(positions[-1])
    assert_saw_everything_once(reader, positions)
    audit_verifies(new_primary)
    # Read models carried over by replication go on from their positions on the new primary.
    caught_up = civledger("projections", "catch-up", store=new_primary)
    assert caught_up.returncode == 0, caught_up.stderr
    assert_models_equal_a_rebuild(new_primary, new_primary)


class ClerkStream(threading.Thread):
    """One office's clerk, recording births one after another until told to stop or refused."""

    def __init__(self, store: str, office: str) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.office = office
        self.acknowledged: dict[str, str] = {}
        self.attempted: list[str] = []
        self.failures: list[tuple[str, int, str]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            reference = f"KS-{self.office}-{n}"
            self.attempted.append(reference)
            done = civledger(*birth_args(reference), store=self.store, **FAST_GIVE_UP)
            if done.returncode != 0:
                self.failures.append((reference, done.returncode, done.stderr))
                return
            self.acknowledged[reference] = done.stdout.strip()
            n += 1


def test_primary_killed_during_clerk_writes_loses_no_acknowledged_act(
    pg_cluster: Cluster,
) -> None:
    primary, standby = pg_cluster.primary, pg_cluster.standby
    reader = TailingReader(standby.url())
    reader.start()
    clerks = [ClerkStream(primary.url(), f"S{n}") for n in range(3)]
    for clerk in clerks:
        clerk.start()
    wait_until(lambda: sum(len(c.acknowledged) for c in clerks) >= 6, 120, "six acknowledged acts")
    pg_cluster.kill_primary()
    for clerk in clerks:
        clerk.halt.set()
    for clerk in clerks:
        clerk.join(timeout=120)
        assert not clerk.is_alive()
        for _, code, stderr in clerk.failures:
            assert code == 1, stderr  # store unreachable, or outcome unknown

    pg_cluster.promote()
    new_primary = standby.url()
    for clerk in clerks:
        for reference in clerk.attempted:
            rerun = civledger(*birth_args(reference), store=new_primary)
            assert rerun.returncode == 0, rerun.stderr
            if reference in clerk.acknowledged:
                assert "already recorded" in rerun.stderr
                assert rerun.stdout.strip() == clerk.acknowledged[reference]

    counts = events_by_type(standby.conninfo())
    attempted = [r for c in clerks for r in c.attempted]
    assert counts["BirthRegistered"] == len(attempted)
    assert counts["ActRecorded"] == len(attempted)
    with CivilRegister(new_primary) as register:
        for reference in attempted:
            assert birth_state(register, reference) is True
        positions = log_positions(register)
    reader.stop_at(positions[-1])
    assert_saw_everything_once(reader, positions)
    audit_verifies(new_primary)
    # Read models carried over by replication go on from their positions on the new primary.
    caught_up = civledger("projections", "catch-up", store=new_primary)
    assert caught_up.returncode == 0, caught_up.stderr
    assert_models_equal_a_rebuild(new_primary, new_primary)
