"""Failover soak on a fresh Patroni cluster: clerk load with the primary killed every N seconds.

    .venv/bin/python -m bench.soak_failover [--seconds 600] [--every 120] [--clerks 8] [--json]
    (or `make soak-failover`)

It builds a cluster with scripts/ha_cluster.py (etcd and three PostgreSQL nodes under
Patroni) under /tmp, initialises the ledger through the writers' URL, and runs at once:
- N clerk processes (8 by default), each a long-lived process recording births through the
  register on the writers' URL; an act that fails with a store error (unreachable, outcome
  unknown) is retried with the same reference until it is acknowledged, as a clerk would;
- `civledger projections follow` reading events through the readers' URL and writing the
  read models through the writers' URL.
Every `--every` seconds it kills every process of the primary (`kill -9`), and once another
node is primary with a synchronous standby it starts the killed node again (it rejoins as a
standby), so that each failover starts from three nodes.

It reports, per failover: seconds from the kill to the promotion, to a named synchronous
standby, and to the first act acknowledged by the new primary (write unavailability); and how
long after the kill the follower's lag was back to its usual level (its median over the minute
before), counted once writes had resumed; and whether the follower exited during the run.
At the end it compares the acts acknowledged to clerks with the births stored: the two counts
must be equal, and it exits 1 when they are not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from scripts.ha_cluster import HACluster, HAClusterError

ROOT = Path(__file__).resolve().parent.parent


def clerk(store: str, office: str) -> None:
    """A long-lived clerk: records births until SIGTERM, printing `reference TIME` for each
    act acknowledged (TIME: the wall clock at the acknowledgement)."""
    from application.register import CivilRegister
    from domain.commands import Clerking, RegisterBirth
    from domain.errors import CivledgerError
    from tests.faults.conftest import birth_of

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    register: CivilRegister | None = None
    n = 0
    while not stop.is_set():
        reference = f"SF-{office}-{n}"
        act = RegisterBirth.parse(province="001", **birth_of(reference))
        clerking = Clerking.parse(clerk="soak", office=office, reference=reference)
        while True:  # an act once tried is retried until acknowledged, even when told to stop
            try:
                register = register or CivilRegister(store)
                register.register_birth(act, clerking)
                break
            except CivledgerError as error:
                # Unreachable, or the outcome is unknown: new connections (which libpq opens
                # on whichever node is primary now) and the same act again.
                print(type(error).__name__, file=sys.stderr, flush=True)
                if register is not None:
                    register.close()
                register = None
                time.sleep(0.5)
        print(f"{reference} {time.time():.3f}", flush=True)
        n += 1


def head_and_lag(cluster: HACluster) -> tuple[int, int] | None:
    """The log's head and the follower's lag behind it (events), read on the primary."""
    try:
        with psycopg.connect(cluster.primary().conninfo(), autocommit=True) as conn:
            head = conn.execute("SELECT coalesce(max(notification_id), 0) FROM civledger_events")
            row = head.fetchone()
            tracked = conn.execute("SELECT min(notification_id) FROM view_tracking").fetchone()
    except (psycopg.Error, HAClusterError):
        return None
    if row is None or tracked is None or tracked[0] is None:
        return None
    return int(row[0]), int(row[0]) - int(tracked[0])


def spawn(*args: str, env: dict[str, str], out: Path) -> subprocess.Popen[bytes]:
    """Start a process whose output goes to files (`out`, `out`.err): a pipe nobody reads
    during the run would fill and stop it."""
    with out.open("wb") as stdout, out.with_suffix(".err").open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=stdout, stderr=stderr
        )


def first_ack_after(acks: list[float], moment: float) -> float | None:
    later = [t for t in acks if t >= moment]
    return min(later) if later else None


def drive(seconds: float, every: float, clerks: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="civledger-soak-ha-", dir="/tmp"))
    root.chmod(0o755)
    cluster = HACluster.plan(root / "ha")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        cluster.up()
        writer, reader = cluster.writer_url(), cluster.reader_url()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIVLEDGER_")}
        env |= {"CIVLEDGER_CONNECT_TIMEOUT": "1", "CIVLEDGER_CLERK": "soak"}
        env |= {"CIVLEDGER_OFFICE": "HN-01", "PYTHONPATH": str(ROOT)}
        init = subprocess.run(
            [sys.executable, "-m", "cli.main", "init", "--store", writer],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if init.returncode != 0:
            raise HAClusterError(init.stderr)
        clerk_procs = [
            spawn("-m", "bench.soak_failover", "--role", "clerk", "--store", writer,
                  "--office", f"S{k}", env=env, out=root / f"clerk{k}.out")
            for k in range(clerks)
        ]  # fmt: skip
        follower = spawn(
            "-m", "cli.main", "projections", "follow", "--events-from", reader,
            "--store", writer, env=env, out=root / "follower.out",
        )  # fmt: skip
        processes = [*clerk_procs, follower]
        started = time.time()
        failovers: list[dict[str, Any]] = []
        lags: list[tuple[float, int]] = []
        next_kill = started + every
        while time.time() < started + seconds:
            sample = head_and_lag(cluster)
            if sample is not None:
                lags.append((time.time(), sample[1]))
            if time.time() >= next_kill and time.time() + 30 < started + seconds:
                failovers.append(fail_over(cluster, lags))
                next_kill = time.time() + every
            time.sleep(0.5)
        follower_exited = follower.poll()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=120)
        acknowledged: dict[str, float] = {}
        for k in range(clerks):
            for line in (root / f"clerk{k}.out").read_text().splitlines():
                reference, _, moment = line.partition(" ")
                acknowledged[reference] = float(moment)
        acks = sorted(acknowledged.values())
        for failover in failovers:
            first = first_ack_after(acks, failover.pop("promoted_at"))
            killed = failover.pop("killed_at")
            failover["first_act_s"] = None if first is None else round(first - killed, 1)
            failover["lag_recovered_s"] = lag_recovery(lags, killed, first)
        cluster.wait_until_ready(timeout=120, standbys=1)
        with psycopg.connect(cluster.primary().conninfo(), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT originator_id) FROM civledger_events "
                "WHERE topic LIKE %s",
                ("%BirthRegistered",),
            ).fetchone()
        stored = int(row[0]) if row else -1
        unavailable = [f["first_act_s"] for f in failovers if f["first_act_s"] is not None]
        return {
            "seconds": round(time.time() - started),
            "clerks": clerks,
            "acknowledged": len(acknowledged),
            "stored": stored,
            "follower_exit_during_run": follower_exited,
            "failovers": failovers,
            "unavailable_median_s": statistics.median(unavailable) if unavailable else None,
            "unavailable_worst_s": max(unavailable) if unavailable else None,
        }
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        cluster.down(remove=True)
        shutil.rmtree(root, ignore_errors=True)


def fail_over(cluster: HACluster, lags: list[tuple[float, int]]) -> dict[str, Any]:
    old = cluster.primary().name
    killed_at = time.time()
    cluster.kill_node(old)
    promoted_at = in_sync_at = None
    deadline = killed_at + 120
    while time.time() < deadline and in_sync_at is None:
        sample = head_and_lag(cluster)
        if sample is not None:
            lags.append((time.time(), sample[1]))
        if promoted_at is None and cluster.current_primary_name() not in (None, old):
            promoted_at = time.time()
        if promoted_at is not None and cluster.sync_standby() is not None:
            in_sync_at = time.time()
        time.sleep(0.25)
    cluster.start(old)
    return {
        "killed": old,
        "killed_at": killed_at,
        "promoted_at": promoted_at or deadline,
        "promoted_s": None if promoted_at is None else round(promoted_at - killed_at, 1),
        "sync_standby_s": None if in_sync_at is None else round(in_sync_at - killed_at, 1),
    }


def lag_recovery(
    lags: list[tuple[float, int]], killed: float, writing: float | None
) -> float | None:
    """Seconds from the kill until the follower's lag is back to its median over the minute
    before the kill, counted from the first sample taken once writes had resumed (`writing`):
    while nothing is written the lag falls by itself."""
    before = [lag for moment, lag in lags if killed - 60 <= moment < killed]
    if not before or writing is None:
        return None
    usual = statistics.median(before)
    for moment, lag in lags:
        if moment > writing + 1 and lag <= usual:
            return round(moment - killed, 1)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="soak-failover",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--every", type=float, default=120)
    parser.add_argument("--clerks", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--role", choices=("driver", "clerk"), default="driver", help="-")
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--office", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "clerk":
        clerk(args.store, args.office)
        return 0
    report = drive(args.seconds, args.every, args.clerks)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['seconds']} s, {report['clerks']} clerks")
        print(f"acts acknowledged {report['acknowledged']}, births stored {report['stored']}")
        for n, failover in enumerate(report["failovers"], start=1):
            print(f"failover {n}: {json.dumps(failover)}")
        print(
            f"write unavailability per failover: median {report['unavailable_median_s']} s, "
            f"worst {report['unavailable_worst_s']} s"
        )
    return 0 if report["acknowledged"] == report["stored"] else 1


if __name__ == "__main__":
    sys.exit(main())
