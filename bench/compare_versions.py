"""Old and new code in the same run: import, rebuild and a clerk's act, alternating versions.

Each version is a checkout with its own `.venv` (the earlier commit made with, for example,
`git worktree add ../civledger-old <commit>`, then `python3 -m venv .venv && .venv/bin/pip
install -e '.[dev]'` inside it). Every measured command runs with that checkout's own
interpreter and `civledger`, from inside that checkout, so the two never share code. Each
round measures, old then new:

  import PG      `civledger import FILE --store <fresh database> --json`, wall time of the
                 process (default batch and parse workers); events/s from the summary's events;
  import SQLite  the same into a fresh SQLite file;
  rebuild PG     `civledger projections rebuild --store URL --json` on one database imported
                 once with the new code, each rebuild checked with `projections digest`;
  act SQLite/PG  300 `CivilRegister.register_birth` calls in one process on a fresh store,
                 each timed with `time.perf_counter` after 20 of warm-up: p50 and p90,
                 and the process's CPU time per act (p50), which waits do not move.

The population file is made once with the new checkout's `civledger generate`. The machine's
speed drifts, so only ratios within a run mean anything: medians over the rounds are compared.

    python -m bench.compare_versions --old DIR --new DIR [--people N] [--rounds R] [--only ...]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.bulk_support import create_database, drop_database, machine, save_results

#: The per-version clerk's act, run by that version's interpreter from inside its checkout:
#: argv is the store URL, the acts to time and the warm-up acts; prints one JSON document
#: with each act's wall time and, to tell the code's own cost from waits on the disk or the
#: server, the CPU time of the process (not of a PostgreSQL server's backend) during it.
ACT_SNIPPET = r"""
import json, sys, time
from datetime import date, timedelta
try:
    from application.register import CivilRegister
except ImportError:
    from domain.application import CivilRegister
from domain.commands import Clerking, RegisterBirth

url, acts, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
          "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Xuân", "Thanh"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Hoa", "Hùng", "Khánh", "Lan",
         "Linh", "Long", "Mai", "Nam", "Phong", "Quân", "Sơn", "Tâm", "Thảo", "Trang",
         "Tuấn", "Vinh", "Yến"]
total = acts + warmup
if total > len(FAMILY) * len(MIDDLE) * len(GIVEN):
    raise SystemExit("too many acts for distinct names")

def commands(n):
    name = " ".join((FAMILY[n % 16], MIDDLE[n // 16 % 8], GIVEN[n // 128 % 24]))
    born = date(1950, 1, 1) + timedelta(days=n * 37 % 20000)
    act = RegisterBirth.parse(
        name=name,
        sex="male" if n % 2 else "female",
        born=born.isoformat(),
        province="001",
        registered_on=(born + timedelta(days=10)).isoformat(),
    )
    clerking = Clerking.parse(
        clerk="Trần Thị Hoa", office="UBND phường Cửa Nam, Hà Nội", reference=f"KS-CMP-{n}"
    )
    return act, clerking

prepared = [commands(n) for n in range(total)]
register = CivilRegister(url)
samples, cpu = [], []
try:
    for act, clerking in prepared:
        started, cpu_started = time.perf_counter(), time.process_time()
        register.register_birth(act, clerking)
        samples.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
finally:
    register.close()
print(json.dumps(
    {"module": CivilRegister.__module__, "samples": samples[warmup:], "cpu": cpu[warmup:]}
))
"""

#: One round's runs: measure -> version label -> what was measured.
Round = dict[str, dict[str, dict[str, Any]]]

#: Variables that would let one version's process import another version's code, or name
#: another store. PYTHONDONTWRITEBYTECODE goes too: an installed release has its byte code,
#: so neither version should compile its sources again in every measured process.
FOREIGN = (
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "PYTHONSTARTUP",
    "PYTHONDONTWRITEBYTECODE",
    "CIVLEDGER_STORE",
)


@dataclass(frozen=True)
class Version:
    label: str
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / ".venv" / "bin"

    @property
    def python(self) -> str:
        return str(self.bin / "python")

    @property
    def civledger(self) -> str:
        return str(self.bin / "civledger")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
        env["VIRTUAL_ENV"] = str(self.root / ".venv")
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def run(self, args: Sequence[str], accept: Sequence[int] = (0,)) -> tuple[str, float]:
        """Run a command from inside this checkout: its stdout and wall seconds."""
        started = time.perf_counter()
        done = subprocess.run(
            list(args), cwd=self.root, env=self.env(), capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - started
        if done.returncode not in accept:
            raise SystemExit(
                f"{self.label}: {' '.join(args[:3])} failed ({done.returncode}): "
                f"{done.stderr.strip()[-2000:]}"
            )
        return done.stdout, seconds

    def cli(self, *args: str, accept: Sequence[int] = (0,)) -> tuple[Any, float]:
        out, seconds = self.run([self.civledger, *args], accept)
        return json.loads(out), seconds

    def describe(self) -> dict[str, Any]:
        def git(*args: str) -> str:
            done = subprocess.run(
                ["git", "-C", str(self.root), *args], capture_output=True, text=True, check=False
            )
            return done.stdout.strip()

        return {
            "path": str(self.root),
            "commit": git("rev-parse", "HEAD"),
            "subject": git("log", "-1", "--format=%s")[:120],
            "modified_tracked_files": git("status", "--porcelain", "--untracked-files=no"),
        }


def checkout(label: str, directory: str) -> Version:
    version = Version(label, Path(directory).resolve())
    for tool in (version.python, version.civledger):
        if not os.access(tool, os.X_OK):
            raise SystemExit(
                f"--{label} {directory}: no {tool}; each checkout needs its own .venv with "
                "civledger installed (python3 -m venv .venv && .venv/bin/pip install -e '.[dev]')"
            )
    return version


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def on_fresh_postgres(work: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    url = create_database("civledger_cmp")
    try:
        return work(url)
    finally:
        drop_database(url)


def import_into(version: Version, source: Path, url: str, rejects: Path) -> dict[str, Any]:
    summary, seconds = version.cli(
        "import", str(source), "--store", url, "--rejects", str(rejects), "--json", accept=(0, 3)
    )
    return {
        "seconds": seconds,
        "events": summary["events"],
        "rows": summary["rows"],
        "rejected": summary["rejected"],
        "reported_seconds": summary.get("seconds"),
        "events_per_second": summary["events"] / seconds,
    }


def clerk_acts(version: Version, url: str, acts: int, warmup: int) -> dict[str, Any]:
    out, seconds = version.run([version.python, "-c", ACT_SNIPPET, url, str(acts), str(warmup)])
    result = json.loads(out)
    samples: list[float] = result["samples"]
    cpu: list[float] = result["cpu"]
    return {
        "module": result["module"],
        "p50_ms": statistics.median(samples) * 1000,
        "p90_ms": percentile(samples, 0.90) * 1000,
        "cpu_p50_ms": statistics.median(cpu) * 1000,
        "cpu_p90_ms": percentile(cpu, 0.90) * 1000,
        "max_ms": max(samples) * 1000,
        "acts": len(samples),
        "process_seconds": seconds,
    }


#: Measurement key: (label, unit, which value is compared, higher is better).
MEASURES: dict[str, tuple[str, str, str, bool]] = {
    "import_postgres": ("import, PostgreSQL", "events/s", "events_per_second", True),
    "import_sqlite": ("import, SQLite", "events/s", "events_per_second", True),
    "rebuild_postgres": ("rebuild, PostgreSQL", "events/s", "events_per_second", True),
    "act_sqlite_p50": ("clerk's act p50, SQLite", "ms", "p50_ms", False),
    "act_sqlite_p90": ("clerk's act p90, SQLite", "ms", "p90_ms", False),
    "act_postgres_p50": ("clerk's act p50, PostgreSQL", "ms", "p50_ms", False),
    "act_postgres_p90": ("clerk's act p90, PostgreSQL", "ms", "p90_ms", False),
    "act_sqlite_cpu_p50": ("act CPU p50, SQLite", "ms", "cpu_p50_ms", False),
    "act_postgres_cpu_p50": ("act CPU p50, PostgreSQL", "ms", "cpu_p50_ms", False),
}
#: Where each measure's runs are kept in a round.
SOURCE = {
    "import_postgres": "import_postgres",
    "import_sqlite": "import_sqlite",
    "rebuild_postgres": "rebuild_postgres",
    "act_sqlite_p50": "act_sqlite",
    "act_sqlite_p90": "act_sqlite",
    "act_postgres_p50": "act_postgres",
    "act_postgres_p90": "act_postgres",
    "act_sqlite_cpu_p50": "act_sqlite",
    "act_postgres_cpu_p50": "act_postgres",
}
#: What a round measures, in this order (`--only` keeps some of them).
STEPS = ("import_postgres", "import_sqlite", "rebuild_postgres", "act_sqlite", "act_postgres")
#: Not slower: at least 0.95x the old throughput; latency at most 1/0.95 of the old.
FLOOR = 0.95


def summarise(rounds: list[Round]) -> dict[str, Any]:
    """Per measure: each version's median, min and max over the rounds, the ratio of the
    medians (new/old) and the median of the ratios taken within each round."""
    summary: dict[str, Any] = {}
    for key, (label, unit, field, higher_is_better) in MEASURES.items():
        values = {
            v: [r[SOURCE[key]][v][field] for r in rounds if SOURCE[key] in r]
            for v in ("old", "new")
        }
        if not values["old"] or not values["new"]:
            continue
        old, new = statistics.median(values["old"]), statistics.median(values["new"])
        paired = [n / o for o, n in zip(values["old"], values["new"], strict=True)]
        ratio = new / old
        limit = FLOOR if higher_is_better else 1 / FLOOR
        summary[key] = {
            "label": label,
            "unit": unit,
            "old": {"median": old, "min": min(values["old"]), "max": max(values["old"])},
            "new": {"median": new, "min": min(values["new"]), "max": max(values["new"])},
            "old_runs": values["old"],
            "new_runs": values["new"],
            "new_over_old": ratio,
            "paired_ratios": paired,
            "paired_ratio_median": statistics.median(paired),
            "limit": limit,
            "not_slower": ratio >= limit if higher_is_better else ratio <= limit,
        }
    return summary


def table(summary: dict[str, Any]) -> str:
    lines = [
        f"{'':30} {'old median':>12} {'new median':>12} {'new/old':>8} {'paired':>7}  "
        f"{'old min-max':>19}  {'new min-max':>19}  verdict",
    ]
    for row in summary.values():
        digits = 0 if row["unit"] == "events/s" else 2
        old, new = row["old"], row["new"]

        def span(s: dict[str, float], d: int = digits) -> str:
            return f"{s['min']:,.{d}f}-{s['max']:,.{d}f}"

        verdict = "not slower" if row["not_slower"] else "SLOWER"
        lines.append(
            f"{row['label'] + ' (' + row['unit'] + ')':30} {old['median']:>12,.{digits}f} "
            f"{new['median']:>12,.{digits}f} {row['new_over_old']:>8.3f} "
            f"{row['paired_ratio_median']:>7.3f}  {span(old):>19}  {span(new):>19}  "
            f"{verdict} (limit {row['limit']:.3f})"
        )
    return "\n".join(lines)


@dataclass
class Comparison:
    """One run: both versions, the population file, the rebuild database, what went wrong."""

    old: Version
    new: Version
    source: Path
    workdir: Path
    acts: int
    warmup_acts: int
    only: tuple[str, ...] = STEPS
    base_url: str = ""
    base: dict[str, Any] | None = None
    reference: Any = None
    checks: list[str] | None = None

    @property
    def versions(self) -> tuple[Version, Version]:
        return (self.old, self.new)

    def fail(self, check: str) -> None:
        self.checks = [*(self.checks or []), check]
        print(f"CHECK FAILED: {check}", flush=True)

    def warm_up(self) -> None:
        """Each version once over a small file, unmeasured: byte-code caches written, the
        lazily imported modules of import, rebuild and the act read from disk once."""
        small = self.workdir / "warmup.jsonl"
        with self.source.open("rb") as full, small.open("wb") as out:
            for _, line in zip(range(500), full, strict=False):
                out.write(line)
        for version in self.versions:
            path = self.workdir / f"warmup-{version.label}.sqlite"
            url = f"sqlite:///{path}"
            import_into(version, small, url, self.workdir / "warmup.rejects.jsonl")
            version.cli("projections", "rebuild", "--store", url, "--json")
            version.cli("projections", "digest", "--store", url, "--json")
            remove_sqlite(path)
            clerk_acts(version, url, 10, 5)
            remove_sqlite(path)

    def prepare_rebuild(self) -> None:
        """The rebuild's database: imported once by the new code, rebuilt once unmeasured
        (so that every measured rebuild replaces existing read models), and its digest."""
        self.base_url = create_database("civledger_cmp_rebuild")
        self.base = import_into(self.new, self.source, self.base_url, self.rejects)
        print(f"rebuild database imported by new: {self.base}", flush=True)
        self.new.cli("projections", "rebuild", "--store", self.base_url, "--json")
        self.reference = self.digest(self.new)
        if self.digest(self.old) != self.reference:
            self.fail("old and new `projections digest` differ on the same read models")

    def digest(self, version: Version) -> Any:
        return version.cli("projections", "digest", "--store", self.base_url, "--json")[0]

    @property
    def rejects(self) -> Path:
        return self.workdir / "rejects.jsonl"

    def import_postgres(self, version: Version) -> dict[str, Any]:
        return on_fresh_postgres(partial(import_into, version, self.source, rejects=self.rejects))

    def import_sqlite(self, version: Version) -> dict[str, Any]:
        path = self.workdir / f"import-{version.label}.sqlite"
        try:
            return import_into(version, self.source, f"sqlite:///{path}", self.rejects)
        finally:
            remove_sqlite(path)

    def rebuild_postgres(self, version: Version) -> dict[str, Any]:
        assert self.base is not None  # noqa: S101 (prepare_rebuild ran)
        rebuilt, seconds = version.cli("projections", "rebuild", "--store", self.base_url, "--json")
        positions = {model: state["position"] for model, state in rebuilt.items()}
        matches = self.digest(self.new) == self.reference
        if not matches:
            self.fail(f"{version.label}: the digest after its rebuild differs")
        if set(positions.values()) != {self.base["events"]}:
            self.fail(f"{version.label}: rebuild positions {positions}")
        return {
            "seconds": seconds,
            "events_per_second": self.base["events"] / seconds,
            "positions": positions,
            "digest_matches": matches,
        }

    def act_sqlite(self, version: Version) -> dict[str, Any]:
        path = self.workdir / f"act-{version.label}.sqlite"
        try:
            return clerk_acts(version, f"sqlite:///{path}", self.acts, self.warmup_acts)
        finally:
            remove_sqlite(path)

    def act_postgres(self, version: Version) -> dict[str, Any]:
        return on_fresh_postgres(
            partial(clerk_acts, version, acts=self.acts, warmup=self.warmup_acts)
        )

    def round(self) -> Round:
        """Every measure, old then new, one after the other."""
        this: Round = {}
        steps: dict[str, Callable[[Version], dict[str, Any]]] = {
            "import_postgres": self.import_postgres,
            "import_sqlite": self.import_sqlite,
            "rebuild_postgres": self.rebuild_postgres,
            "act_sqlite": self.act_sqlite,
            "act_postgres": self.act_postgres,
        }
        for key in self.only:
            this[key] = {v.label: steps[key](v) for v in self.versions}
        for key in {"import_postgres", "import_sqlite"} & set(self.only):
            o, n = this[key]["old"], this[key]["new"]
            if any(o[field] != n[field] for field in ("events", "rows", "rejected")):
                self.fail(f"{key}: old {o} and new {n} recorded differently")
        return this


def brief(this: Round) -> str:
    return json.dumps(
        {
            key: {
                v: round(x["events_per_second"] if "events_per_second" in x else x["p50_ms"], 2)
                for v, x in per.items()
            }
            for key, per in this.items()
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="checkout of the earlier code, with .venv")
    parser.add_argument("--new", required=True, help="checkout of the new code, with .venv")
    parser.add_argument("--people", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--acts", type=int, default=300)
    parser.add_argument("--warmup-acts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--name", default="compare-versions")
    parser.add_argument(
        "--only", default=",".join(STEPS), help=f"some of {','.join(STEPS)} (default: all)"
    )
    args = parser.parse_args()
    only = tuple(step for step in STEPS if step in args.only.split(","))
    if not only or set(args.only.split(",")) - set(STEPS):
        parser.error(f"--only takes some of {','.join(STEPS)}")
    old, new = checkout("old", args.old), checkout("new", args.new)
    details = machine()
    described = {v.label: v.describe() for v in (old, new)}
    print(f"machine: {details}", flush=True)
    for label, description in described.items():
        print(f"{label}: {description}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="civledger-compare-"))
    source = workdir / f"people-{args.people}.jsonl"
    run = Comparison(old, new, source, workdir, args.acts, args.warmup_acts, only)
    rounds: list[Round] = []
    loads: list[list[float]] = []
    started = time.perf_counter()
    try:
        generate = [new.civledger, "generate", "--people", str(args.people)]
        new.run([*generate, "--seed", str(args.seed), "--out", str(source)])
        run.warm_up()
        if "rebuild_postgres" in only:
            run.prepare_rebuild()
        for r in range(1, args.rounds + 1):
            loads.append([round(x, 2) for x in os.getloadavg()])
            rounds.append(run.round())
            elapsed = time.perf_counter() - started
            print(
                f"round {r}/{args.rounds} (load at start {loads[-1]}, {elapsed:.0f} s): "
                f"{brief(rounds[-1])}",
                flush=True,
            )
    finally:
        if run.base_url:
            drop_database(run.base_url)
        shutil.rmtree(workdir, ignore_errors=True)
    summary = summarise(rounds)
    print(table(summary))
    for check in run.checks or []:
        print(f"CHECK FAILED: {check}")
    document = {
        "machine": details,
        "versions": described,
        "people": args.people,
        "seed": args.seed,
        "acts": args.acts,
        "warmup_acts": args.warmup_acts,
        "measured": only,
        "rebuild_database_import": run.base,
        "seconds": time.perf_counter() - started,
        "checks_failed": run.checks or [],
        "summary": summary,
        "load_average_at_round_start": loads,
        "rounds": rounds,
    }
    print(f"written {save_results(args.name, document)}")


if __name__ == "__main__":
    main()
