"""`show` and `history` with `--events-from` a streaming replica, lagging on purpose.

Replay on the standby is paused (`pg_wal_replay_pause()`): the primary goes on committing
(its synchronous standby still flushes the WAL), while reads from the standby see an older,
complete prefix of the log, with the primary's positions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from application.register import CivilRegister
from domain.commands import Clerking, RecordDeath
from tests.faults.cluster import Cluster
from tests.faults.conftest import civledger, running_cluster
from tests.faults.test_connection_cut import death_args, register_person

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[Cluster]:
    """One cluster for this module: its tests leave the servers as they found them."""
    with running_cluster() as cluster:
        yield cluster


def replay(cluster: Cluster, *, paused: bool) -> None:
    with psycopg.connect(cluster.standby.conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")


def history(number: str, store: str, *extra: str) -> list[dict[str, object]]:
    done = civledger("history", number, "--json", *extra, store=store)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_a_lagging_replica_shows_an_older_prefix_with_the_primarys_positions(
    pg_cluster: Cluster,
) -> None:
    store, replica = pg_cluster.primary.url(), pg_cluster.standby.url()
    number = register_person(store, "KS-REPLICA-1")
    pg_cluster.wait_for_replay()
    replay(pg_cluster, paused=True)
    try:
        died = civledger(*death_args(number, "KT-REPLICA-1"), store=store)
        assert died.returncode == 0, died.stderr
        on_primary = history(number, store)
        on_replica = history(number, store, "--events-from", replica)
        assert [e["type"] for e in on_primary][-1] == "DeathRegistered"
        assert on_replica == on_primary[: len(on_replica)]
        assert len(on_replica) < len(on_primary)

        shown = civledger("show", number, "--json", "--events-from", replica, store=store)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["status"] != "deceased"
    finally:
        replay(pg_cluster, paused=False)
    pg_cluster.wait_for_replay()
    assert history(number, store, "--events-from", replica) == on_primary
    env_only = civledger("show", number, "--json", store=store, CIVLEDGER_EVENTS_FROM=replica)
    assert env_only.returncode == 0, env_only.stderr
    assert json.loads(env_only.stdout)["status"] == "deceased"


def test_a_command_decides_on_the_primary_even_when_queries_read_a_lagging_replica(
    pg_cluster: Cluster,
) -> None:
    store, replica = pg_cluster.primary.url(), pg_cluster.standby.url()
    pg_cluster.wait_for_replay()
    replay(pg_cluster, paused=True)
    try:
        number = register_person(store, "KS-REPLICA-2")  # not replayed on the standby
        with CivilRegister(store, events_from=replica) as register:
            outcome = register.record_death(
                RecordDeath.parse(person=number, died_on="2026-01-15"),
                Clerking.parse(clerk="fault-drill", office="HN-01", reference="KT-REPLICA-2"),
            )
            assert outcome.person.died_on is not None
        unknown = civledger("show", number, "--events-from", replica, store=store)
        assert unknown.returncode == 4  # the replica has not seen this person yet
    finally:
        replay(pg_cluster, paused=False)


def test_an_events_source_without_the_ledger_is_refused_in_one_line(
    pg_cluster: Cluster,
) -> None:
    empty = pg_cluster.standby.url(dbname="postgres")
    done = civledger("show", "001200000001", "--events-from", empty, store=pg_cluster.primary.url())
    assert done.returncode == 1
    assert "holds no civledger log" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_projections_status_shows_the_lag_behind_the_primary_as_well_as_the_replica(
    pg_cluster: Cluster,
) -> None:
    store, replica = pg_cluster.primary.url(), pg_cluster.standby.url()
    register_person(store, "KS-REPLICA-3")
    pg_cluster.wait_for_replay()
    caught_up = civledger("projections", "catch-up", "--events-from", replica, store=store)
    assert caught_up.returncode == 0, caught_up.stderr
    pg_cluster.wait_for_replay()
    replay(pg_cluster, paused=True)
    try:
        register_person(store, "KS-REPLICA-4")  # on the primary only, for now
        status = civledger("projections", "status", "--json", "--events-from", replica, store=store)
    finally:
        replay(pg_cluster, paused=False)
    assert status.returncode == 0, status.stderr
    models = json.loads(status.stdout)
    assert set(models) == {"people", "id_numbers", "statistics", "cards"}
    for model in models.values():
        assert model["primary_head"] > model["head"]
        assert model["primary_lag"] > 0
        assert model["primary_lag"] >= model["lag"]
