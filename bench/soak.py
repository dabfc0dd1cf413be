"""Soak test on a local primary + synchronous standby: clerks, a follower and a verify reader.

    .venv/bin/python -m bench.soak [--seconds 60] [--clerks 8] [--json]     (or `make soak`)

For a bounded time it runs, at once:
- N clerk processes (8 by default), each a long-lived process recording acts through the
  register (births, then deaths and name corrections of its own people) on the primary;
- `civledger projections follow` reading events from the standby and writing the read models
  on the primary;
- a verify reader: a process checking ID numbers against names and dates of birth in the read
  models, as an agency would (`civledger verify --no-catch-up` does the same query).

It reports acts/s, the follower's lag behind the primary (p50, p99, in events, sampled every
quarter second), the standby's replay lag, verify latency and errors by kind. The only
acceptable errors are expected rule refusals (exit 3 in the CLI); any other error makes it
exit 1. It builds its own cluster under /tmp with tests/faults/cluster.py and removes it.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.faults.cluster import Cluster

ROOT = Path(__file__).resolve().parent.parent

PROVINCES = ("001", "079", "048", "031", "092", "046")
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi")
MIDDLE = ("Thị", "Văn", "Minh", "Ngọc", "Thu", "Đức", "Thanh", "Hữu", "Quang", "Kim")
GIVEN = (
    "Hoa",
    "An",
    "Bình",
    "Cúc",
    "Dũng",
    "Giang",
    "Hạnh",
    "Khánh",
    "Lan",
    "Mai",
    "Nam",
    "Phúc",
    "Quân",
    "Sơn",
    "Tâm",
    "Uyên",
    "Vinh",
    "Yến",
)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# ------------------------------------------------------------------ the clerk role


def clerk(store: str, office: str, seconds: float, seed: int) -> dict[str, Any]:
    from application.register import CivilRegister
    from domain.commands import ChangeRecord, Clerking, RecordDeath, RegisterBirth
    from domain.errors import CivledgerError, RuleBroken

    rng = random.Random(seed)
    register = CivilRegister(store)
    people: list[tuple[str, date]] = []
    done = 0
    errors: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    began = time.monotonic()
    deadline = began + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        clerking = Clerking.parse(clerk=f"soak {office}", office=office, reference=f"{office}-{n}")
        roll = rng.random()
        started = time.perf_counter()
        try:
            if roll < 0.75 or len(people) < 5:
                born = date(1950, 1, 1) + timedelta(days=rng.randrange(25000))
                act = RegisterBirth.parse(
                    name=f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}",
                    sex=rng.choice(("male", "female")),
                    born=born.isoformat(),
                    province=rng.choice(PROVINCES),
                )
                outcome = register.register_birth(act, clerking)
                if outcome.person.id_number:
                    people.append((outcome.person.id_number, born))
            elif roll < 0.9:
                number, born = rng.choice(people)
                lived = max(2, (date(2026, 1, 1) - born).days)
                died = born + timedelta(days=rng.randrange(1, lived))
                register.record_death(
                    RecordDeath.parse(person=number, died_on=died.isoformat()), clerking
                )
            else:
                number, _ = rng.choice(people)
                name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
                register.change_record(
                    ChangeRecord.parse(person=number, field="name", value=name, kind="correction"),
                    clerking,
                )
            done += 1
            latencies.append(time.perf_counter() - started)
        except RuleBroken as refused:
            errors[f"refused:{refused.rule or type(refused).__name__}"] += 1
        except CivledgerError as error:
            errors[type(error).__name__] += 1
        except Exception as error:  # counted and reported, never hidden
            errors[f"unexpected:{type(error).__name__}"] += 1
    register.close()
    return {
        "acts": done,
        "errors": dict(errors),
        "latencies": latencies,
        "seconds": time.monotonic() - began,
    }


# --------------------------------------------------------------- the verify reader


def verifier(views_url: str, seconds: float, seed: int) -> dict[str, Any]:
    from domain.values import IdNumber
    from projections.id_registry import ID_NUMBERS
    from projections.people import PEOPLE
    from projections.queries import ReadModels
    from projections.views import ViewDatabase

    rng = random.Random(seed)
    views = ViewDatabase.open(views_url)
    models = ReadModels(views)
    latencies: list[float] = []
    matches = 0
    errors: collections.Counter[str] = collections.Counter()
    sample: list[tuple[Any, ...]] = []
    refreshed = 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if time.monotonic() - refreshed > 2 or not sample:
                sample = views.query(
                    f"SELECT n.id_number, p.name_folded, p.born FROM {ID_NUMBERS.physical()} n "
                    f"JOIN {PEOPLE.physical()} p ON p.person_id = n.person_id "
                    "WHERE n.status = 'assigned' ORDER BY random() LIMIT 200",
                    (),
                )
                refreshed = time.monotonic()
            if not sample:
                time.sleep(0.1)
                continue
            number, name, born = rng.choice(sample)
            born_on = born if isinstance(born, date) else date.fromisoformat(str(born))
            started = time.perf_counter()
            answer = models.verify(IdNumber.parse(str(number)), str(name), born_on)
            latencies.append(time.perf_counter() - started)
            matches += bool(answer["match"])
        except Exception as error:  # counted and reported, never hidden
            errors[f"verify:{type(error).__name__}"] += 1
            time.sleep(0.1)
    views.close()
    return {
        "verifications": len(latencies),
        "matches": matches,
        "errors": dict(errors),
        "latencies": latencies,
    }


# --------------------------------------------------------------------- the driver


def spawn(role: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.soak", "--role", role, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def civledger(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def drive(seconds: float, clerks: int) -> dict[str, Any]:
    from tests.faults.cluster import Cluster, unavailable_reason

    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"soak: cannot build a local cluster: {reason}")
    root = Path(tempfile.mkdtemp(prefix="civledger-soak-", dir="/tmp"))
    root.chmod(0o755)
    cluster = Cluster.plan(root / "pg")
    try:
        cluster.up()
        store, replica = cluster.primary.url(), cluster.standby.url()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIVLEDGER_")}
        env["CIVLEDGER_STORE"] = store
        for setup in (("init",), ("projections", "catch-up", "--events-from", replica)):
            step = civledger(*setup, env=env)
            _, err = step.communicate(timeout=120)
            if step.returncode != 0:
                raise SystemExit(f"soak: {' '.join(setup)} failed: {err.strip()}")
        follower = civledger(
            "projections", "follow", "--batch-size", "500", "--events-from", replica, env=env
        )
        workers = [
            spawn(
                "clerk",
                "--store",
                store,
                "--office",
                f"SOAK-{n:02d}",
                "--seconds",
                str(seconds),
                "--seed",
                str(n),
            )
            for n in range(clerks)
        ]
        reader = spawn("verify", "--store", store, "--seconds", str(seconds), "--seed", "99")
        started = time.monotonic()
        lags, replay_lags, heads = sample(cluster, workers)
        elapsed = time.monotonic() - started
        results = [json.loads(w.communicate(timeout=120)[0]) for w in workers]
        verify = json.loads(reader.communicate(timeout=120)[0])
        follower.send_signal(signal.SIGTERM)
        _, follower_err = follower.communicate(timeout=120)
        if follower.returncode != 0:
            verify["errors"][
                f"follower exited {follower.returncode}: {follower_err.strip()[-200:]}"
            ] = 1
        # The write rate while the clerks were writing (process start-up left out).
        moving = [i for i in range(1, len(heads)) if heads[i][1] != heads[i - 1][1]]
        first, last = (moving[0] - 1, moving[-1]) if moving else (0, len(heads) - 1)
        rate = (heads[last][1] - heads[first][1]) / max(heads[last][0] - heads[first][0], 1e-9)
        return summarise(clerks, elapsed, results, verify, lags, replay_lags, rate)
    finally:
        cluster.down(remove=True)
        shutil.rmtree(root, ignore_errors=True)


def sample(
    cluster: Cluster, workers: list[subprocess.Popen[str]]
) -> tuple[list[int], list[int], list[tuple[float, int]]]:
    """Every quarter second until the clerks finish: the primary's head, the standby's
    replayed head and the follower's lowest position."""
    import psycopg

    lags: list[int] = []
    replay_lags: list[int] = []
    heads: list[tuple[float, int]] = []
    with (
        psycopg.connect(cluster.primary.conninfo(), autocommit=True) as primary,
        psycopg.connect(cluster.standby.conninfo(), autocommit=True) as standby,
    ):
        while any(w.poll() is None for w in workers):
            head = primary.execute(
                "SELECT coalesce(max(notification_id), 0) FROM civledger_events"
            ).fetchone()
            replayed = standby.execute(
                "SELECT coalesce(max(notification_id), 0) FROM civledger_events"
            ).fetchone()
            try:
                tracked = primary.execute(
                    "SELECT coalesce(min(notification_id), 0), count(*) FROM view_tracking"
                ).fetchone()
            except psycopg.Error:
                tracked = None
            if head:
                heads.append((time.monotonic(), int(head[0])))
            if head and replayed:
                replay_lags.append(max(int(head[0]) - int(replayed[0]), 0))
            if head and tracked and int(tracked[1]) == 3:
                lags.append(max(int(head[0]) - int(tracked[0]), 0))
            time.sleep(0.25)
    return lags, replay_lags, heads


def summarise(
    clerks: int,
    elapsed: float,
    results: list[dict[str, Any]],
    verify: dict[str, Any],
    lags: list[int],
    replay_lags: list[int],
    events_per_second: float,
) -> dict[str, Any]:
    errors: collections.Counter[str] = collections.Counter()
    for r in results:
        errors.update(r["errors"])
    errors.update(verify["errors"])
    write_latencies = [x for r in results for x in r["latencies"]]
    acts = sum(r["acts"] for r in results)
    busy = max(r["seconds"] for r in results)
    return {
        "seconds": round(busy, 1),
        "wall_seconds": round(elapsed, 1),
        "clerks": clerks,
        "acts": acts,
        "acts_per_second": round(acts / busy, 1),
        "events_per_second": round(events_per_second, 1),
        "write_latency_ms": {
            "p50": round(percentile(write_latencies, 50) * 1000, 1),
            "p99": round(percentile(write_latencies, 99) * 1000, 1),
        },
        "follower_lag_events": {
            "p50": percentile([float(x) for x in lags], 50),
            "p99": percentile([float(x) for x in lags], 99),
            "samples": len(lags),
            "p50_seconds_estimate": round(
                percentile([float(x) for x in lags], 50) / max(events_per_second, 1e-9), 2
            ),
            "p99_seconds_estimate": round(
                percentile([float(x) for x in lags], 99) / max(events_per_second, 1e-9), 2
            ),
        },
        "standby_replay_lag_events": {
            "p50": percentile([float(x) for x in replay_lags], 50),
            "p99": percentile([float(x) for x in replay_lags], 99),
        },
        "verify": {
            "count": verify["verifications"],
            "matches": verify["matches"],
            "latency_ms_p50": round(percentile(verify["latencies"], 50) * 1000, 2),
            "latency_ms_p99": round(percentile(verify["latencies"], 99) * 1000, 2),
        },
        "errors": dict(sorted(errors.items())),
        "unexpected_errors": sum(
            count for kind, count in errors.items() if not kind.startswith("refused:")
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="soak", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to run")
    parser.add_argument("--clerks", type=int, default=8, help="concurrent clerk processes")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--role", choices=("driver", "clerk", "verify"), default="driver", help=argparse.SUPPRESS
    )
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--office", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.role == "clerk":
        print(json.dumps(clerk(args.store, args.office, args.seconds, args.seed)))
        return 0
    if args.role == "verify":
        print(json.dumps(verifier(args.store, args.seconds, args.seed)))
        return 0

    report = drive(args.seconds, args.clerks)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        lag, verify = report["follower_lag_events"], report["verify"]
        print(
            f"{report['acts']} acts in {report['seconds']}s by {report['clerks']} clerks: "
            f"{report['acts_per_second']} acts/s "
            f"(write p50 {report['write_latency_ms']['p50']} ms, "
            f"p99 {report['write_latency_ms']['p99']} ms)"
        )
        print(
            f"follower lag behind the primary: p50 {lag['p50']:.0f}, p99 {lag['p99']:.0f} "
            f"events (~{lag['p50_seconds_estimate']} s, ~{lag['p99_seconds_estimate']} s at "
            f"{report['events_per_second']} events/s; {lag['samples']} samples); "
            "standby replay lag p99 "
            f"{report['standby_replay_lag_events']['p99']:.0f} events"
        )
        print(
            f"verify: {verify['count']} checks, p50 {verify['latency_ms_p50']} ms, "
            f"p99 {verify['latency_ms_p99']} ms, {verify['matches']} matches"
        )
        print(f"errors: {report['errors'] or 'none'}")
    return 1 if report["unexpected_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
