"""Projection workers under faults: a server restarted under a follower, a worker killed mid-batch.

The follower reads events from the standby and writes the read models on the primary. After
each fault the models must equal a rebuild from the first event (`projections digest`): a
skipped or doubly applied event would show as a difference.
"""

from __future__ import annotations

import signal
from pathlib import Path

import psycopg
import pytest

from projections.engine import PROJECTION_NAMES
from tests.faults.cluster import Cluster
from tests.faults.conftest import civledger, start_civledger
from tests.faults.invariants import assert_models_equal_a_rebuild, audit_verifies, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def imported(cluster: Cluster, tmp_path: Path, people: int) -> int:
    """Import a synthetic population on the primary; the log's head afterwards."""
    acts = tmp_path / "acts.jsonl"
    store = cluster.primary.url()
    done = civledger(
        "generate", "--people", str(people), "--seed", "5", "--out", str(acts), store=store
    )
    assert done.returncode == 0, done.stderr
    done = civledger("import", str(acts), "--json", store=store)
    assert done.returncode == 0, done.stderr
    cluster.wait_for_replay()
    with psycopg.connect(cluster.primary.conninfo(), autocommit=True) as conn:
        row = conn.execute("SELECT max(notification_id) FROM civledger_events").fetchone()
    assert row is not None
    return int(row[0])


def positions(cluster: Cluster) -> dict[str, int]:
    """The read models' tracking positions, straight from the primary (empty when none)."""
    try:
        with psycopg.connect(cluster.primary.conninfo(), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT application_name, notification_id FROM view_tracking"
            ).fetchall()
    except psycopg.Error:
        return {}
    return {str(name): int(position) for name, position in rows}


def test_a_follower_carries_on_through_an_immediate_restart_of_the_primary(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    store, replica = pg_cluster.primary.url(), pg_cluster.standby.url()
    head = imported(pg_cluster, tmp_path, people=3000)
    follower = start_civledger(
        "projections", "follow", "--batch-size", "100", "--events-from", replica, store=store
    )
    wait_until(
        lambda: min(positions(pg_cluster).values(), default=0) > 0,
        120,
        "the follower to write its first batch",
    )
    assert min(positions(pg_cluster).values()) < head, "caught up before the fault"
    pg_cluster.restart(pg_cluster.primary, mode="immediate")
    wait_until(
        lambda: (
            follower.poll() is not None
            or (
                len(positions(pg_cluster)) == len(PROJECTION_NAMES)
                and min(positions(pg_cluster).values()) >= head
            )
        ),
        180,
        "the follower to reach the head of the log",
    )
    assert follower.poll() is None, follower.communicate()[1]
    follower.send_signal(signal.SIGTERM)
    _, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err

    assert_models_equal_a_rebuild(store, replica)
    audit_verifies(store)


def test_a_projection_worker_killed_mid_batch_resumes_exactly_once(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    store, replica = pg_cluster.primary.url(), pg_cluster.standby.url()
    head = imported(pg_cluster, tmp_path, people=3000)
    worker = start_civledger(
        "projections", "catch-up", "--batch-size", "100", "--events-from", replica, store=store
    )
    wait_until(
        lambda: min(positions(pg_cluster).values(), default=0) > 0,
        120,
        "the worker to write its first batch",
    )
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=30)
    reached = positions(pg_cluster)
    assert min(reached.values()) < head, "caught up before the fault"

    resumed = civledger("projections", "catch-up", "--events-from", replica, store=store)
    assert resumed.returncode == 0, resumed.stderr
    assert min(positions(pg_cluster).values()) >= head
    assert_models_equal_a_rebuild(store, replica)
