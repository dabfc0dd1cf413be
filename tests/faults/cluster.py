"""A throwaway PostgreSQL primary plus a synchronous hot standby, on loopback ports.

Used by the fault-injection fixture (`tests/faults/conftest.py`), by `scripts/pg_cluster.py` and
by `bench/soak.py`. It runs the installed binaries (`initdb`, `pg_basebackup -R`, `pg_ctl`) as the
`postgres` OS user when started as root, since PostgreSQL refuses to run as root. Everything
lives under one directory: `primary/`, `standby/`, their logs and a `cluster.json` that lets a
later `down`, `promote` or `status` find the cluster again. It never touches port 5432.

The standby is named `standby1` and the primary waits for it on every commit
(`synchronous_standby_names = 'FIRST 1 (standby1)'`, `synchronous_commit = on`): an act
acknowledged to a clerk is on both machines.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

#: The database the ledger uses on the cluster.
DBNAME = "civledger"
STANDBY_NAME = "standby1"
STATE_FILE = "cluster.json"
OS_USER = "postgres"
FORBIDDEN_PORT = 5432

PRIMARY_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "wal_level": "replica",
    "max_wal_senders": "5",
    "max_replication_slots": "5",
    "wal_keep_size": "'128MB'",
    "hot_standby": "on",
    "hot_standby_feedback": "on",
    "synchronous_commit": "on",
    "synchronous_standby_names": f"'FIRST 1 ({STANDBY_NAME})'",
    "max_connections": "60",
    "shared_buffers": "'32MB'",
    "wal_receiver_status_interval": "'1s'",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] %a '",
}


class ClusterError(RuntimeError):
    """The cluster could not be built, started or stopped."""


def find_bindir() -> Path:
    """The PostgreSQL server binaries: CIVLEDGER_PG_BIN, the newest /usr/lib/postgresql, or PATH."""
    configured = os.environ.get("CIVLEDGER_PG_BIN")
    if configured:
        return Path(configured)
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for candidate in reversed(candidates):
        if (candidate / "initdb").exists():
            return candidate
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise ClusterError("no PostgreSQL server binaries found (initdb); set CIVLEDGER_PG_BIN")


def unavailable_reason() -> str | None:
    """Why a local cluster cannot be built here, or None when it can."""
    try:
        bindir = find_bindir()
    except ClusterError as error:
        return str(error)
    for tool in ("initdb", "pg_ctl", "pg_basebackup", "postgres"):
        if not (bindir / tool).exists():
            return f"{bindir / tool} is missing"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"running as root and there is no {OS_USER!r} OS user to run the servers"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    if port == FORBIDDEN_PORT:  # pragma: no cover - the kernel never hands out 5432 here
        return free_port()
    return port


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", OS_USER, "--", *command]
    return command


@dataclass
class Node:
    name: str
    port: int
    datadir: str
    log: str

    def url(self, dbname: str = DBNAME) -> str:
        return f"postgresql://{OS_USER}@127.0.0.1:{self.port}/{dbname}"

    def conninfo(self, dbname: str = DBNAME) -> str:
        return f"host=127.0.0.1 port={self.port} user={OS_USER} dbname={dbname} connect_timeout=3"

    def postmaster_pid(self) -> int | None:
        pidfile = Path(self.datadir) / "postmaster.pid"
        try:
            return int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def answers(self) -> bool:
        try:
            with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True


@dataclass
class Cluster:
    """A primary and a synchronous hot standby under `root`."""

    root: Path
    primary: Node
    standby: Node
    bindir: str = field(default_factory=lambda: str(find_bindir()))

    # ------------------------------------------------------------ construction

    @classmethod
    def plan(cls, root: Path, port: int | None = None) -> Cluster:
        """A cluster to build under `root`, on `port` and `port + 1` (free ports by default)."""
        root = root.resolve()
        primary_port = port or free_port()
        standby_port = primary_port + 1 if port else free_port()
        if FORBIDDEN_PORT in (primary_port, standby_port):
            raise ClusterError("port 5432 belongs to the machine's own cluster; pick another")
        return cls(
            root=root,
            primary=Node("primary", primary_port, str(root / "primary"), str(root / "primary.log")),
            standby=Node("standby", standby_port, str(root / "standby"), str(root / "standby.log")),
        )

    @classmethod
    def load(cls, root: Path) -> Cluster:
        state = root.resolve() / STATE_FILE
        try:
            data = json.loads(state.read_text())
        except OSError as error:
            raise ClusterError(f"no cluster at {root} ({error})") from error
        return cls(
            root=Path(data["root"]),
            primary=Node(**data["primary"]),
            standby=Node(**data["standby"]),
            bindir=data["bindir"],
        )

    def save(self) -> None:
        data = {
            "root": str(self.root),
            "primary": asdict(self.primary),
            "standby": asdict(self.standby),
            "bindir": self.bindir,
        }
        (self.root / STATE_FILE).write_text(json.dumps(data, indent=2) + "\n")

    # ---------------------------------------------------------------- running

    def _tool(self, name: str) -> str:
        return str(Path(self.bindir) / name)

    def _run(self, command: list[str], *, timeout: float = 120) -> str:
        done = subprocess.run(
            _as_server_user(command),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if done.returncode != 0:
            raise ClusterError(
                f"{' '.join(command[:2])} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )
        return done.stdout

    def _prepare_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for parent in self.root.parents:
                if not parent.stat().st_mode & 0o001:
                    raise ClusterError(
                        f"{parent} is not searchable by the {OS_USER!r} OS user that runs "
                        "the servers; put the cluster under a directory it can reach, e.g. /tmp"
                    )
            entry = pwd.getpwnam(OS_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.root.chmod(0o755)

    def up(self) -> None:
        """initdb a primary, clone a standby with `pg_basebackup -R`, start both, wait for sync."""
        self._prepare_root()
        self.save()
        primary, standby = self.primary, self.standby
        self._run(
            [
                self._tool("initdb"),
                "-D",
                primary.datadir,
                "-U",
                OS_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ]
        )
        settings = {
            **PRIMARY_SETTINGS,
            "port": str(primary.port),
            "unix_socket_directories": f"'{self.root}'",
            "cluster_name": "'primary'",
        }
        self._append_settings(primary, settings)
        self.start(primary)
        self._run(
            [
                self._tool("pg_basebackup"),
                "-D",
                standby.datadir,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "-d",
                f"host=127.0.0.1 port={primary.port} user={OS_USER} "
                f"application_name={STANDBY_NAME}",
            ]
        )
        self._append_settings(
            standby, {"port": str(standby.port), "cluster_name": f"'{STANDBY_NAME}'"}
        )
        self.start(standby)
        self.wait_for_sync()
        with psycopg.connect(primary.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DBNAME)))

    def _append_settings(self, node: Node, settings: dict[str, str]) -> None:
        conf = Path(node.datadir) / "postgresql.conf"
        lines = [f"{key} = {value}" for key, value in settings.items()]
        with conf.open("a") as handle:
            handle.write("\n# civledger local cluster\n" + "\n".join(lines) + "\n")

    def start(self, node: Node) -> None:
        self._run(
            [
                self._tool("pg_ctl"),
                "-D",
                node.datadir,
                "-l",
                node.log,
                "-w",
                "-t",
                "60",
                "start",
            ]
        )

    def stop(self, node: Node, mode: str = "fast") -> None:
        if node.postmaster_pid() is None:
            return
        with contextlib.suppress(ClusterError):
            self._run([self._tool("pg_ctl"), "-D", node.datadir, "-m", mode, "-w", "stop"])

    def restart(self, node: Node, mode: str = "immediate") -> None:
        self._run(
            [
                self._tool("pg_ctl"),
                "-D",
                node.datadir,
                "-l",
                node.log,
                "-m",
                mode,
                "-w",
                "-t",
                "60",
                "restart",
            ]
        )

    def kill_primary(self) -> int:
        """SIGKILL the primary's postmaster, as a power cut would; returns its pid."""
        pid = self.primary.postmaster_pid()
        if pid is None:
            raise ClusterError("the primary is not running")
        os.kill(pid, signal.SIGKILL)
        return pid

    def promote(self) -> None:
        """Promote the standby; it then commits without waiting for a standby of its own."""
        self._run([self._tool("pg_ctl"), "-D", self.standby.datadir, "-w", "-t", "60", "promote"])
        with psycopg.connect(self.standby.conninfo("postgres"), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET synchronous_standby_names = ''")
            conn.execute("SELECT pg_reload_conf()")

    def wait_for_sync(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(self.primary.conninfo("postgres"), autocommit=True) as conn,
            ):
                row = conn.execute(
                    "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s",
                    (STANDBY_NAME,),
                ).fetchone()
                if row and row[0] == "sync":
                    return
            time.sleep(0.2)
        raise ClusterError(f"the standby did not become synchronous within {timeout:.0f}s")

    def wait_for_replay(self, timeout: float = 60) -> None:
        """Wait until the standby has replayed everything the primary has written."""
        with psycopg.connect(self.primary.conninfo("postgres"), autocommit=True) as conn:
            row = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
        assert row is not None  # a SELECT of one value returns one row
        target = row[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.standby.conninfo("postgres"), autocommit=True) as conn:
            while time.monotonic() < deadline:
                done = conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
                ).fetchone()
                if done and done[0]:
                    return
                time.sleep(0.1)
        raise ClusterError(f"the standby did not replay up to {target} within {timeout:.0f}s")

    def status(self) -> dict[str, object]:
        report: dict[str, object] = {"root": str(self.root)}
        for node in (self.primary, self.standby):
            entry: dict[str, object] = {
                "port": node.port,
                "url": node.url(),
                "pid": node.postmaster_pid(),
                "answers": False,
            }
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(node.conninfo("postgres"), autocommit=True) as conn,
            ):
                recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                entry["answers"] = True
                entry["role"] = "standby" if recovery and recovery[0] else "primary"
                if entry["role"] == "primary":
                    rows = conn.execute(
                        "SELECT application_name, state, sync_state, "
                        "COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0) "
                        "FROM pg_stat_replication"
                    ).fetchall()
                    entry["replicas"] = [
                        {"name": r[0], "state": r[1], "sync": r[2], "replay_lag_bytes": int(r[3])}
                        for r in rows
                    ]
                else:
                    row = conn.execute(
                        "SELECT pg_last_wal_replay_lsn()::text, "
                        "COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)"
                    ).fetchone()
                    if row:
                        entry["replayed_lsn"] = row[0]
                        entry["last_replay_age_s"] = float(row[1])
            report[node.name] = entry
        return report

    # ----------------------------------------------------------------- cleanup

    def down(self, *, remove: bool = True) -> None:
        """Stop both servers (immediately), kill any leftover server process, remove the files."""
        for node in (self.standby, self.primary):
            self.stop(node, mode="immediate")
        self._kill_leftovers()
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill_leftovers(self) -> None:
        """Kill server processes still working in this cluster's directories (by pid)."""
        datadirs = (Path(self.primary.datadir), Path(self.standby.datadir))
        for node in (self.primary, self.standby):
            pid = node.postmaster_pid()
            if pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cwd = Path(os.readlink(proc / "cwd"))
            except OSError:
                continue
            if any(cwd == d or d in cwd.parents for d in datadirs):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(proc.name), signal.SIGKILL)
