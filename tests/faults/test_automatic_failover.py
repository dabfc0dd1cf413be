"""Automatic failover on a Patroni cluster (scripts/ha_cluster.py): etcd and three nodes.

Clerks write through the writers' URL (every node, `target_session_attrs=read-write`) and
retry an act that exits 1, as docs/operations.md tells them to. Nobody promotes anything by
hand: Patroni does, and libpq finds the new primary. After each fault every acknowledged act
must be on the primary exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from application.register import CivilRegister
from infrastructure.access_log import ACCESS_LOG_TABLE
from scripts.ha_cluster import HACluster, HAClusterError, Node
from tests.faults.conftest import birth_args, birth_of, civledger, start_civledger
from tests.faults.invariants import (
    TailingReader,
    assert_models_equal_a_rebuild,
    assert_saw_everything_once,
    audit_verifies,
    birth_state,
    log_positions,
    wait_until,
)
from tests.service.server import Server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

#: What a clerk's exit 1 may say while the cluster changes primary: no primary to be found
#: yet (for the store, or for the read models the birth's look-alike check reads), or a
#: commit cut in flight. All mean "retry the same command".
RETRY_SAFE = ("is unreachable", "outcome unknown, a retry is safe", "connection failed")

#: A clerk whose connection died with the primary retries it about ten times, each time
#: waiting up to CIVLEDGER_CONNECT_TIMEOUT for a connection: one second keeps that short.
QUICK_GIVE_UP: dict[str, Any] = {"CIVLEDGER_CONNECT_TIMEOUT": "1"}

#: How long a clerk waits before retrying an act that exited 1.
RETRY_PAUSE = 1.0

#: How a standby refuses the ledger's first write statement.
READ_ONLY = "cannot execute LOCK TABLE during recovery"

#: Where the kill-the-primary test appends its measure (docs/operations.md, ## Failover).
FAILOVER_LOG_VAR = "CIVLEDGER_FAILOVER_LOG"


class RetryingClerk(threading.Thread):
    """One office's clerk recording births one after another, each retried until it is
    acknowledged (exit 0). Every attempt is kept with its start and end times."""

    def __init__(self, store: str, office: str) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.office = office
        self.acknowledged: dict[str, str] = {}
        self.attempts: list[tuple[str, float, float, int, str]] = []
        self.halt = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            reference = f"HA-{self.office}-{n}"
            if not self.record(reference):
                return
            n += 1

    def record(self, reference: str, give_up_after: float = 120) -> bool:
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            started = time.monotonic()
            done = civledger(*birth_args(reference), store=self.store, **QUICK_GIVE_UP)
            self.attempts.append(
                (reference, started, time.monotonic(), done.returncode, done.stderr)
            )
            if done.returncode == 0:
                self.acknowledged[reference] = done.stdout.strip()
                return True
            if done.returncode != 1 or not any(s in done.stderr for s in RETRY_SAFE):
                self.error = f"{reference}: exit {done.returncode}: {done.stderr}"
                return False
            time.sleep(RETRY_PAUSE)
        self.error = f"{reference}: still failing after {give_up_after:.0f}s"
        return False

    def successes_ending_after(self, moment: float | None) -> list[float]:
        if moment is None:
            return []
        return [end for _, _, end, code, _ in self.attempts if code == 0 and end >= moment]


@contextmanager
def clerks_writing(store: str, count: int) -> Iterator[list[RetryingClerk]]:
    clerks = [RetryingClerk(store, f"C{n}") for n in range(count)]
    for clerk in clerks:
        clerk.start()
    try:
        yield clerks
    finally:
        for clerk in clerks:
            clerk.halt.set()
        for clerk in clerks:
            clerk.join(timeout=180)


class PromotionWatch(threading.Thread):
    """Notes when, after `since`, another node than `old` is primary and when it has a
    synchronous standby again (the two steps of a failover), for the failover figures."""

    def __init__(self, cluster: HACluster, old: str, since: float) -> None:
        super().__init__(daemon=True)
        self.cluster, self.old, self.since = cluster, old, since
        self.promoted: float | None = None
        self.in_sync: float | None = None

    def run(self) -> None:
        deadline = self.since + 120
        while self.in_sync is None and time.monotonic() < deadline:
            name = self.cluster.current_primary_name()
            if self.promoted is None and name not in (None, self.old):
                self.promoted = time.monotonic()
            if self.promoted is not None and self.cluster.sync_standby() is not None:
                self.in_sync = time.monotonic()
            time.sleep(0.5)

    def join_and_report(self) -> dict[str, float | None]:
        self.join(timeout=130)
        return {
            "promoted_s": None if self.promoted is None else round(self.promoted - self.since, 1),
            "sync_standby_s": None if self.in_sync is None else round(self.in_sync - self.since, 1),
        }


def acknowledged(clerks: list[RetryingClerk]) -> int:
    return sum(len(c.acknowledged) for c in clerks)


def assert_every_act_once(cluster: HACluster, clerks: list[RetryingClerk]) -> None:
    """Every acknowledged act is wholly recorded once on the primary, and nothing else is."""
    for clerk in clerks:
        assert not clerk.is_alive(), f"clerk {clerk.office} is still writing"
        assert clerk.error is None, clerk.error
    references = [r for c in clerks for r in c.acknowledged]
    primary = cluster.primary()
    with CivilRegister(primary.url()) as register:
        for reference in references:
            assert birth_state(register, reference) is True
    with psycopg.connect(primary.conninfo(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM civledger_events WHERE topic LIKE %s", ("%BirthRegistered",)
        ).fetchone()
    assert row is not None
    assert row[0] == len(references), "an act was recorded twice, or one nobody acknowledged"
    # The same act retried by a clerk answers with the same number as the first time.
    for clerk in clerks:
        for reference, number in list(clerk.acknowledged.items())[:2]:
            again = civledger(*birth_args(reference), store=cluster.writer_url())
            assert again.returncode == 0, again.stderr
            assert "already recorded" in again.stderr
            assert again.stdout.strip() == number


def timeline(node: Node) -> int | None:
    state = node.patroni_state()
    value = None if state is None else state.get("timeline")
    return int(value) if value is not None else None


def write_directly(node_url: str, reference: str) -> tuple[int, str]:
    """Record a birth on one node by its own port, with no `target_session_attrs`."""
    done = civledger(*birth_args(reference), store=node_url)
    return done.returncode, done.stderr


def test_the_primary_killed_under_eight_clerks_is_replaced_and_comes_back_as_a_standby(
    ha_cluster: HACluster,
) -> None:
    old = ha_cluster.primary()
    # A reader tailing the log on the synchronous standby, which Patroni will promote. (On the
    # asynchronous one it could see, for a moment, a commit the failover then drops: one
    # that was never acknowledged; docs/operations.md, ## Reads from a replica.)
    sync = ha_cluster.sync_standby()
    assert sync is not None
    reader = TailingReader(ha_cluster.node(sync).url())
    reader.start()
    with clerks_writing(ha_cluster.writer_url(), 8) as clerks:
        wait_until(lambda: acknowledged(clerks) >= 16, 180, "16 acknowledged acts")
        killed_at = time.monotonic()
        assert ha_cluster.kill_node(old.name), "no process of the primary was found"
        watch = PromotionWatch(ha_cluster, old.name, killed_at)
        watch.start()
        # An act acknowledged once another node is primary was committed there: the old
        # primary was dead by then. Acts in flight at the kill count too: the store retries
        # them on a new connection, which libpq opens on the new primary.
        wait_until(
            lambda: any(c.successes_ending_after(watch.promoted) for c in clerks),
            120,
            "an act acknowledged by the new primary",
        )
        first = min(t for c in clerks for t in c.successes_ending_after(watch.promoted))
        steps = watch.join_and_report()
        before_more = acknowledged(clerks)
        wait_until(lambda: acknowledged(clerks) >= before_more + 8, 120, "8 more acts")
    log = os.environ.get(FAILOVER_LOG_VAR)
    if log:
        record = {"fault": "kill-primary", "first_act_s": round(first - killed_at, 1), **steps}
        with Path(log).open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    new = ha_cluster.primary()
    assert new.name != old.name
    assert old.role() == "down"
    assert_every_act_once(ha_cluster, clerks)
    with CivilRegister(ha_cluster.writer_url()) as register:
        positions = log_positions(register)
    reader.stop_at(positions[-1])
    assert_saw_everything_once(reader, positions)

    # The old primary comes back: Patroni rewinds it onto the new timeline as a standby.
    ha_cluster.start(old.name)
    wait_until(lambda: old.role() == "standby", 120, f"{old.name} to rejoin as a standby")
    with psycopg.connect(old.conninfo(), autocommit=True) as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    assert row == (True,)
    # It follows the new primary's timeline (rewound first if its WAL went past the fork).
    wait_until(
        lambda: timeline(old) == timeline(new) is not None, 60, f"{old.name} on the new timeline"
    )
    # Split brain, tried directly: a write to the old primary's own port must fail.
    code, err = write_directly(old.url(), "HA-SPLIT-1")
    assert code == 1, err
    assert READ_ONLY in err
    with CivilRegister(new.url()) as register:
        assert birth_state(register, "HA-SPLIT-1") is False
    ha_cluster.wait_until_ready(timeout=120)


def test_the_import_cut_by_a_failover_resumes_on_the_new_primary(
    ha_cluster: HACluster, tmp_path: Path
) -> None:
    acts = tmp_path / "acts.jsonl"
    writer = ha_cluster.writer_url()
    generated = civledger(
        "generate", "--people", "4000", "--seed", "5", "--out", str(acts), store=writer
    )
    assert generated.returncode == 0, generated.stderr
    rows = len(acts.read_text().splitlines())
    old = ha_cluster.primary()
    importing = start_civledger("import", str(acts), "--batch", "100", "--json", store=writer)

    def imported_some() -> bool:
        with psycopg.connect(old.conninfo(), autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM civledger_events").fetchone()
        return row is not None and row[0] > 1000

    wait_until(imported_some, 180, "1000 imported events")
    assert importing.poll() is None, "the import finished before the fault; make it longer"
    ha_cluster.kill_node(old.name)
    out, err = importing.communicate(timeout=300)
    # Cut (exit 1), or carried through by the store's retry on a new connection. Carried
    # through, it has been seen to reject some rows (exit 3) that the re-run then records:
    # an open question (docs/operations.md, ## Failover). Either way the re-run must leave
    # every row recorded once.
    assert importing.returncode in (0, 1, 3), out + err
    wait_until(lambda: ha_cluster.current_primary_name() not in (None, old.name), 90, "a primary")
    ha_cluster.wait_until_ready(timeout=120, standbys=1)

    rerun = civledger("import", str(acts), "--batch", "500", "--json", store=writer, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["rejected"] == 0
    assert report["recorded"] + report["already_recorded"] == rows
    assert report["already_recorded"] > 0
    with psycopg.connect(ha_cluster.primary().conninfo(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM civledger_events WHERE topic LIKE %s", ("%ActRecorded",)
        ).fetchone()
    assert row == (rows,)


def test_a_planned_switchover_under_clerk_load_fails_no_act_beyond_its_retry(
    ha_cluster: HACluster,
) -> None:
    with clerks_writing(ha_cluster.writer_url(), 8) as clerks:
        wait_until(lambda: acknowledged(clerks) >= 16, 180, "16 acknowledged acts")
        old, new = ha_cluster.switchover()
        switched_at = time.monotonic()
        wait_until(
            lambda: sum(len(c.successes_ending_after(switched_at)) for c in clerks) >= 8,
            120,
            "8 acts acknowledged after the switchover",
        )
    assert ha_cluster.primary().name == new != old
    assert_every_act_once(ha_cluster, clerks)
    # The old primary is a standby now: it refuses a write sent straight to it.
    code, err = write_directly(ha_cluster.node(old).url(), "HA-SPLIT-2")
    assert code == 1, err
    assert READ_ONLY in err


def sync_rep_waiters(conninfo: str) -> int:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_with_both_standbys_dead_writes_wait_and_go_on_when_one_returns(
    ha_cluster: HACluster,
) -> None:
    primary = ha_cluster.primary()
    standbys = [n for n in ha_cluster.nodes if n.name != primary.name]
    for standby in standbys:
        ha_cluster.kill_node(standby.name)
    clerk = start_civledger(*birth_args("HA-WAIT-1"), store=ha_cluster.writer_url())
    # The commit is written on the primary and waits for a synchronous standby: strict
    # synchronous mode never acknowledges an act that one node alone holds.
    wait_until(lambda: sync_rep_waiters(primary.conninfo()) > 0, 60, "a commit waiting")
    assert clerk.poll() is None, "the act was acknowledged with no standby to hold it"
    with psycopg.connect(primary.conninfo("postgres"), autocommit=True) as conn:
        names = conn.execute("SHOW synchronous_standby_names").fetchone()
    assert names is not None
    assert names[0] != "", "the primary stopped waiting for standbys"

    ha_cluster.start(standbys[0].name)
    out, err = clerk.communicate(timeout=120)
    assert clerk.returncode == 0, err
    assert out.strip()
    with CivilRegister(ha_cluster.writer_url()) as register:
        assert birth_state(register, "HA-WAIT-1") is True
    assert ha_cluster.primary().name == primary.name


def test_a_primary_cut_off_from_etcd_stops_taking_writes(ha_cluster: HACluster) -> None:
    primary = ha_cluster.primary()
    code, err = write_directly(primary.url(), "HA-FENCE-0")
    assert code == 0, err
    etcd = ha_cluster.etcd_pid()
    assert etcd is not None
    os.kill(etcd, signal.SIGSTOP)  # etcd stops answering, as behind a cut network link
    try:
        # Without the leader key the primary demotes itself: it cannot know that no standby
        # was promoted, so it must not commit anything a new primary would not hold.
        wait_until(lambda: primary.role() != "primary", 60, "the primary to step down")
        code, err = write_directly(primary.url(), "HA-FENCE-1")
        assert code == 1, err
    finally:
        os.kill(etcd, signal.SIGCONT)
    ha_cluster.wait_until_ready(timeout=120)
    code, err = write_directly(ha_cluster.primary().url(), "HA-FENCE-2")
    assert code == 0, err
    with CivilRegister(ha_cluster.writer_url()) as register:
        assert birth_state(register, "HA-FENCE-1") is False
        assert birth_state(register, "HA-FENCE-2") is True


def primary_positions(cluster: HACluster) -> dict[str, int]:
    """The read models' tracking positions on whichever node is primary (empty when none)."""
    try:
        with psycopg.connect(cluster.primary().conninfo(), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT application_name, notification_id FROM view_tracking"
            ).fetchall()
    except (psycopg.Error, HAClusterError):
        return {}
    return {str(name): int(position) for name, position in rows}


def test_a_follower_goes_on_through_a_failover_without_a_restart(
    ha_cluster: HACluster, tmp_path: Path
) -> None:
    writer, reader = ha_cluster.writer_url(), ha_cluster.reader_url()
    acts = tmp_path / "acts.jsonl"
    done = civledger(
        "generate", "--people", "3000", "--seed", "7", "--out", str(acts), store=writer
    )
    assert done.returncode == 0, done.stderr
    done = civledger("import", str(acts), "--json", store=writer, timeout=300)
    assert done.returncode == 0, done.stderr
    follower = start_civledger(
        "projections", "follow", "--batch-size", "100", "--events-from", reader, store=writer
    )
    wait_until(
        lambda: min(primary_positions(ha_cluster).values(), default=0) > 0,
        120,
        "the follower to write its first batch",
    )
    old = ha_cluster.primary()
    ha_cluster.kill_node(old.name)
    wait_until(lambda: ha_cluster.current_primary_name() not in (None, old.name), 90, "a primary")
    clerk = RetryingClerk(writer, "F")
    assert clerk.record("HA-AFTER-1"), clerk.error
    with CivilRegister(writer) as register:
        head = log_positions(register)[-1]
    wait_until(
        lambda: (
            follower.poll() is not None
            or min(primary_positions(ha_cluster).values(), default=0) >= head
        ),
        180,
        "the follower to reach the head of the log on the new primary",
    )
    assert follower.poll() is None, follower.communicate()[1]
    follower.send_signal(signal.SIGTERM)
    _, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert_models_equal_a_rebuild(writer, writer)
    audit_verifies(writer)


class VerifyingPartner(threading.Thread):
    """A partner posting one verification after another to `civledger serve`; every answer
    is kept with the time it arrived, its status and its transaction."""

    def __init__(self, url: str, key: str, body: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.body = url, key, body
        self.answers: list[tuple[float, int, str | None]] = []
        self.errors: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as client:
            while not self.halt.is_set():
                try:
                    answer = client.post("/v1/verify", json=self.body)
                except httpx.HTTPError as error:
                    self.errors.append(type(error).__name__)
                    time.sleep(0.2)
                    continue
                document = answer.json()
                transaction = document.get("transaction") if answer.status_code == 200 else None
                self.answers.append((time.monotonic(), answer.status_code, transaction))
                if answer.status_code != 200:
                    time.sleep(0.2)

    def answered_after(self, moment: float | None) -> int:
        if moment is None:
            return 0
        return sum(1 for at, status, _ in self.answers if status == 200 and at > moment)


def test_the_service_answers_through_a_failover_and_every_answer_is_logged(
    ha_cluster: HACluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`civledger serve` on the writers' URL, with a partner verifying all along: while the
    cluster changes primary it answers 503 (never a 500, never a dropped connection), then
    answers again from the new primary without a restart; every answer given has its
    access-log entry on the new primary, once."""
    writers = ha_cluster.writer_url()
    reference = "HA-SERVE-1"
    done = civledger(*birth_args(reference), store=writers)
    assert done.returncode == 0, done.stderr
    number = done.stdout.strip()
    assert civledger("projections", "catch-up", store=writers).returncode == 0
    added = civledger("admin", "partner", "add", "bank", "--scopes", "verify", store=writers)
    assert added.returncode == 0, added.stderr
    key = json.loads(added.stdout)["key"]
    birth = birth_of(reference)
    body = {"id_number": number, "name": birth["name"], "born": birth["born"]}
    body["purpose"] = "an account"

    # The writers' URL with the hosts in the order that matters: the primary, then the standby
    # that will stay a standby, then the one Patroni will promote. After the kill, a connection
    # that ignored `target_session_attrs` would settle on the standby and never write again.
    old = ha_cluster.primary()
    promoted = ha_cluster.sync_standby()
    assert promoted is not None
    stays = next(n for n in ha_cluster.nodes if n.name not in (old.name, promoted))
    ordered = [old, stays, ha_cluster.node(promoted)]
    hosts = ",".join(f"127.0.0.1:{node.port}" for node in ordered)
    store = f"{writers.split('@')[0]}@{hosts}/{writers.split('/')[-1]}"
    monkeypatch.setenv("CIVLEDGER_CONNECT_TIMEOUT", "1")
    server = Server(store, tmp_path / "server.log")
    partner = VerifyingPartner(server.url, key, body)
    partner.start()
    try:
        wait_until(lambda: partner.answered_after(0) >= 20, 60, "20 verifications answered")
        killed_at = time.monotonic()
        assert ha_cluster.kill_node(old.name), "no process of the primary was found"
        watch = PromotionWatch(ha_cluster, old.name, killed_at)
        watch.start()
        wait_until(lambda: watch.promoted is not None, 120, "another node to be primary")
        wait_until(
            lambda: partner.answered_after(watch.promoted) >= 20,
            120,
            "20 verifications answered by the new primary",
        )
        watch.join_and_report()
    finally:
        partner.halt.set()
        partner.join(timeout=90)
        server.stop()

    statuses = {status for _, status, _ in partner.answers}
    assert statuses <= {200, 503}, statuses
    assert partner.errors == []
    given = [t for _, status, t in partner.answers if status == 200 and t is not None]
    assert len(given) == sum(1 for _, status, _ in partner.answers if status == 200)
    with psycopg.connect(ha_cluster.primary().conninfo(), autocommit=True) as connection:
        logged = [
            row[0]
            for row in connection.execute(
                f"SELECT txn FROM {ACCESS_LOG_TABLE} WHERE person = %s", (number,)
            )
        ]
    assert sorted(given) == sorted(t for t in logged if t in set(given))
    assert len(set(logged)) == len(logged)
    assert "Traceback" not in server.log_text()
