"""ha-cluster: one etcd member and three PostgreSQL 15 nodes under Patroni, on loopback ports.

    scripts/ha-cluster up --dir DIR [--base-port N]   build and start; prints {"writer", "reader"}
    scripts/ha-cluster status --dir DIR [--json]      each node's role, port and processes
    scripts/ha-cluster start NODE --dir DIR           start a node (node1..node3) or etcd again
    scripts/ha-cluster switchover --dir DIR           hand the primary role to the sync standby
    scripts/ha-cluster down --dir DIR [--keep]        stop everything and delete DIR

Patroni elects the primary through etcd and promotes a synchronous standby by itself when the
primary is lost (`synchronous_mode_strict`: no commit is acknowledged that one node alone
holds). PostgreSQL node K listens on N+K and its Patroni REST API on N+10+K (N: --base-port,
by default the first free block from 5440); etcd takes two free ports from 23790. The nodes
run as the `postgres` OS user when started as root. This tool installs nothing: it names the
Debian package of anything missing (`patroni`, `etcd-server`, `postgresql-15`).
See docs/operations.md and docs/adr/009-patroni-for-automatic-failover.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

PG_BIN = Path(os.environ.get("CIVLEDGER_PG_BIN", "/usr/lib/postgresql/15/bin"))
DBNAME = "civledger"
OS_USER = "postgres"
STATE_FILE = "cluster.json"
NODE_NAMES = ("node1", "node2", "node3")
PORT_RANGE = (5440, 5499)
ETCD_PORTS_FROM = 23790
FORBIDDEN_PORT = 5432

#: Patroni's cluster-wide settings, written to etcd once at bootstrap (`bootstrap.dcs`).
#: ttl/loop_wait/retry_timeout: the leader key lapses 6 s after the primary's last renewal,
#: so a lost primary is replaced in about that time (docs/operations.md, ## Failover).
DCS_SETTINGS: dict[str, Any] = {
    "ttl": 6,
    "loop_wait": 1,
    "retry_timeout": 2,
    "maximum_lag_on_failover": 1048576,
    "synchronous_mode": True,
    "synchronous_mode_strict": True,
    "postgresql": {
        "use_pg_rewind": True,
        "use_slots": True,
        "parameters": {
            "wal_level": "replica",
            "hot_standby": "on",
            "wal_log_hints": "on",
            "max_wal_senders": 10,
            "max_replication_slots": 10,
            "wal_keep_size": "128MB",
            "max_connections": 100,
            "synchronous_commit": "on",
            "hot_standby_feedback": "on",
            "wal_receiver_status_interval": "1s",
        },
    },
}


class HAClusterError(RuntimeError):
    """The cluster could not be built, started, changed or stopped."""


# ----------------------------------------------------------------------------- the machine


def missing_packages() -> list[str]:
    """The Debian packages this tool needs and does not find, with what is missing."""
    missing: list[str] = []
    if shutil.which("patroni") is None:
        missing.append("patroni (no `patroni` on PATH)")
    if shutil.which("etcd") is None:
        missing.append("etcd-server (no `etcd` on PATH)")
    for tool in ("initdb", "pg_ctl", "postgres", "pg_rewind", "pg_basebackup"):
        if not (PG_BIN / tool).exists():
            missing.append(f"postgresql-15 (no {PG_BIN / tool})")
            break
    return missing


def port_is_free(port: int) -> bool:
    if port == FORBIDDEN_PORT:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def node_ports(base: int) -> list[int]:
    """The PostgreSQL and REST API ports of the three nodes for base port `base`."""
    return [base + k for k in (1, 2, 3)] + [base + 10 + k for k in (1, 2, 3)]


def choose_base_port() -> int:
    low, high = PORT_RANGE
    for base in range(low, high - 12):
        if all(port_is_free(p) for p in node_ports(base)):
            return base
    raise HAClusterError(f"no free block of ports in {low}-{high}; pass --base-port")


def choose_etcd_ports() -> tuple[int, int]:
    free = [p for p in range(ETCD_PORTS_FROM, ETCD_PORTS_FROM + 200) if port_is_free(p)]
    if len(free) < 2:
        raise HAClusterError(f"no two free ports from {ETCD_PORTS_FROM} for etcd")
    return free[0], free[1]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def process_table() -> dict[int, tuple[int, str]]:
    """Every live process: its parent pid and working directory ("" when unreadable)."""
    table: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            cwd = ""
        if alive(pid):
            table[pid] = (parent, cwd)
    return table


def descendants(roots: set[int], table: dict[int, tuple[int, str]]) -> set[int]:
    found = {pid for pid in roots if pid in table}
    grew = True
    while grew:
        more = {pid for pid, (parent, _) in table.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def http_json(url: str, *, method: str = "GET", body: object = None, timeout: float = 2) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback http
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            text = answer.read().decode()
    except urllib.error.HTTPError as error:  # Patroni answers 503 with a body on replicas
        text = error.read().decode()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


# ----------------------------------------------------------------------------- the cluster


@dataclass
class Node:
    name: str
    port: int
    api_port: int
    home: str

    @property
    def datadir(self) -> Path:
        return Path(self.home) / "data"

    @property
    def config(self) -> Path:
        return Path(self.home) / "patroni.yml"

    @property
    def pidfile(self) -> Path:
        return Path(self.home) / "patroni.pid"

    @property
    def log(self) -> Path:
        return Path(self.home) / "patroni.log"

    def url(self, dbname: str = DBNAME) -> str:
        """This node alone, with no `target_session_attrs`: whatever role it has."""
        return f"postgresql://{OS_USER}@127.0.0.1:{self.port}/{dbname}"

    def conninfo(self, dbname: str = DBNAME) -> str:
        return f"host=127.0.0.1 port={self.port} user={OS_USER} dbname={dbname} connect_timeout=2"

    def patroni_pid(self) -> int | None:
        pid = read_pid(self.pidfile)
        if pid is not None and alive(pid) and "patroni" in cmdline(pid):
            return pid
        return None

    def postmaster_pid(self) -> int | None:
        pid = read_pid(self.datadir / "postmaster.pid")
        if pid is not None and alive(pid) and "postgres" in cmdline(pid):
            return pid
        return None

    def pids(self, table: dict[int, tuple[int, str]] | None = None) -> list[int]:
        """Every process of this node: Patroni, the postmaster, their children, and any
        server process still working in the data directory."""
        table = process_table() if table is None else table
        roots = {p for p in (self.patroni_pid(), self.postmaster_pid()) if p is not None}
        home = self.home.rstrip("/") + "/"
        roots |= {pid for pid, (_, cwd) in table.items() if (cwd + "/").startswith(home)}
        return sorted(descendants(roots, table))

    def patroni_state(self) -> dict[str, Any] | None:
        try:
            answer = http_json(f"http://127.0.0.1:{self.api_port}/patroni", timeout=1)
        except (OSError, ValueError):
            return None
        return answer if isinstance(answer, dict) else None

    def role(self) -> str:
        """primary, standby or down, as this node's Patroni reports it."""
        if self.patroni_pid() is None:
            return "down"
        state = self.patroni_state()
        if state is None or state.get("state") != "running":
            return "down"
        if state.get("role") in ("master", "primary"):
            return "primary"
        if state.get("role") in ("replica", "standby_leader", "sync_standby"):
            return "standby"
        return "down"


@dataclass
class HACluster:
    root: str
    scope: str
    base_port: int
    etcd_port: int
    etcd_peer_port: int
    nodes: list[Node]

    # ------------------------------------------------------------------ construction

    @classmethod
    def plan(cls, root: Path, base_port: int | None = None) -> HACluster:
        root = root.resolve()
        base = choose_base_port() if base_port is None else base_port
        for port in node_ports(base):
            if port == FORBIDDEN_PORT or not port_is_free(port):
                raise HAClusterError(f"port {port} is taken; pick another --base-port")
        etcd_port, peer_port = choose_etcd_ports()
        nodes = [
            Node(name, base + k, base + 10 + k, str(root / name))
            for k, name in enumerate(NODE_NAMES, start=1)
        ]
        return cls(str(root), f"civledger-{base}", base, etcd_port, peer_port, nodes)

    @classmethod
    def load(cls, root: Path) -> HACluster:
        try:
            data = json.loads((root.resolve() / STATE_FILE).read_text())
        except (OSError, ValueError) as error:
            raise HAClusterError(f"no cluster at {root} ({error})") from error
        data["nodes"] = [Node(**node) for node in data["nodes"]]
        return cls(**data)

    def save(self) -> None:
        (Path(self.root) / STATE_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise HAClusterError(f"no node {name!r}; the nodes are {', '.join(NODE_NAMES)} (or etcd)")

    # ------------------------------------------------------------------ URLs

    def hosts(self) -> str:
        return ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def writer_url(self, dbname: str = DBNAME) -> str:
        return f"postgresql://{OS_USER}@{self.hosts()}/{dbname}?target_session_attrs=read-write"

    def reader_url(self, dbname: str = DBNAME) -> str:
        return f"postgresql://{OS_USER}@{self.hosts()}/{dbname}?target_session_attrs=prefer-standby"

    # ------------------------------------------------------------------ etcd

    @property
    def etcd_dir(self) -> Path:
        return Path(self.root) / "etcd"

    def etcd_pid(self) -> int | None:
        pid = read_pid(Path(self.root) / "etcd.pid")
        if pid is not None and alive(pid) and "etcd" in cmdline(pid):
            return pid
        return None

    def etcd_healthy(self) -> bool:
        try:
            answer = http_json(f"http://127.0.0.1:{self.etcd_port}/health", timeout=1)
        except (OSError, ValueError):
            return False
        return isinstance(answer, dict) and answer.get("health") == "true"

    def start_etcd(self) -> None:
        if self.etcd_pid() is not None:
            return
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        command = [
            "etcd",
            "--name=etcd0",
            f"--data-dir={self.etcd_dir}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=etcd0={peer}",
            "--initial-cluster-state=new",
            f"--initial-cluster-token={self.scope}",
        ]
        with (Path(self.root) / "etcd.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=clean_env(),
                cwd=self.root,
            )
        (Path(self.root) / "etcd.pid").write_text(f"{process.pid}\n")
        wait_for(self.etcd_healthy, 30, "etcd to answer")

    # ------------------------------------------------------------------ Patroni

    def patroni_config(self, node: Node) -> dict[str, Any]:
        address = "127.0.0.1"
        trust = ["local all all trust", "host all all 127.0.0.1/32 trust"]
        return {
            "scope": self.scope,
            "namespace": "/civledger/",
            "name": node.name,
            "restapi": {
                "listen": f"{address}:{node.api_port}",
                "connect_address": f"{address}:{node.api_port}",
            },
            # Patroni 3.0.2 with Debian's etcd client speaks the v2 API only through `etcd:`,
            # which etcd 3.4 turns off; `etcd3:` uses the v3 API (gRPC gateway).
            "etcd3": {"hosts": [f"{address}:{self.etcd_port}"]},
            "bootstrap": {
                "dcs": DCS_SETTINGS,
                "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
            },
            "postgresql": {
                "listen": f"{address}:{node.port}",
                "connect_address": f"{address}:{node.port}",
                "data_dir": str(node.datadir),
                "bin_dir": str(PG_BIN),
                "pgpass": str(Path(node.home) / "pgpass"),
                "authentication": {
                    "superuser": {"username": OS_USER},
                    "replication": {"username": "replicator"},
                    "rewind": {"username": OS_USER},
                },
                "parameters": {
                    "unix_socket_directories": node.home,
                    "cluster_name": node.name,
                    "log_min_messages": "warning",
                },
                "pg_hba": [*trust, "host replication all 127.0.0.1/32 trust"],
            },
            "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
        }

    def start_node(self, node: Node) -> None:
        if node.patroni_pid() is not None:
            return
        home = Path(node.home)
        home.mkdir(parents=True, exist_ok=True)
        # YAML is a superset of JSON: Patroni reads this file as its YAML configuration.
        node.config.write_text(json.dumps(self.patroni_config(node), indent=2) + "\n")
        as_server_user(home)
        with node.log.open("ab") as log:
            process = subprocess.Popen(
                ["patroni", str(node.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=clean_env(),
                cwd=node.home,
                **server_user(),
            )
        node.pidfile.write_text(f"{process.pid}\n")

    # ------------------------------------------------------------------ lifecycle

    def up(self) -> None:
        root = Path(self.root)
        root.mkdir(parents=True, exist_ok=True)
        check_reachable(root)
        self.save()
        # bootstrap.dcs lives in etcd: a fresh cluster starts from an empty etcd directory.
        shutil.rmtree(self.etcd_dir, ignore_errors=True)
        self.start_etcd()
        for node in self.nodes:
            self.start_node(node)
        self.wait_until_ready(timeout=180)
        primary = self.primary()
        with psycopg.connect(primary.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DBNAME)))

    def primary(self) -> Node:
        primaries = [node for node in self.nodes if node.role() == "primary"]
        if len(primaries) != 1:
            raise HAClusterError(f"{len(primaries)} nodes are primary, not one")
        return primaries[0]

    def sync_standby(self) -> str | None:
        """The standby the primary's commits wait for, once Patroni has named one and the
        primary streams to it as `sync` (right after bootstrap or a failover,
        `synchronous_standby_names` is briefly `*`)."""
        try:
            primary = self.primary()
            members = http_json(f"http://127.0.0.1:{primary.api_port}/cluster")["members"]
            named = [m["name"] for m in members if m.get("role") == "sync_standby"]
            with psycopg.connect(primary.conninfo("postgres"), autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT application_name FROM pg_stat_replication "
                    "WHERE sync_state = 'sync' AND current_setting('synchronous_standby_names') "
                    "NOT IN ('', '*')"
                ).fetchall()
        except (HAClusterError, psycopg.Error, OSError, KeyError, TypeError):
            return None
        streaming = {str(row[0]) for row in rows}
        return next((name for name in named if name in streaming), None)

    def streaming_standbys(self) -> int:
        try:
            primary = self.primary()
            with psycopg.connect(primary.conninfo("postgres"), autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
                ).fetchone()
        except (HAClusterError, psycopg.Error):
            return 0
        return int(row[0]) if row else 0

    def wait_until_ready(self, timeout: float = 120, standbys: int = 2) -> None:
        """Wait for one primary, `standbys` streaming standbys and a named sync standby."""
        wait_for(
            lambda: self.sync_standby() is not None and self.streaming_standbys() >= standbys,
            timeout,
            f"a primary with {standbys} streaming standbys, one of them synchronous",
            logs=[node.log for node in self.nodes],
        )

    def start(self, name: str) -> None:
        if name == "etcd":
            self.start_etcd()
            return
        node = self.node(name)
        self.start_node(node)
        wait_for(lambda: node.role() != "down", 120, f"{name} to run", logs=[node.log])

    def switchover(self) -> tuple[str, str]:
        """Hand the primary role to the synchronous standby; returns (old, new) primaries."""
        old = self.primary()
        candidate = self.sync_standby()
        if candidate is None:
            raise HAClusterError("no synchronous standby to hand over to")
        answer = http_json(
            f"http://127.0.0.1:{old.api_port}/switchover",
            method="POST",
            body={"leader": old.name, "candidate": candidate},
            timeout=30,
        )
        wait_for(
            lambda: self.current_primary_name() == candidate,
            60,
            f"{candidate} to become primary ({answer})",
        )
        wait_for(lambda: self.sync_standby() is not None, 60, "a synchronous standby")
        return old.name, candidate

    def current_primary_name(self) -> str | None:
        with contextlib.suppress(HAClusterError):
            return self.primary().name
        return None

    def status(self) -> list[dict[str, Any]]:
        table = process_table()
        return [
            {"name": n.name, "role": n.role(), "port": n.port, "pids": n.pids(table)}
            for n in self.nodes
        ]

    def kill_node(self, name: str) -> list[int]:
        """SIGKILL every process of a node, as a power cut would; returns their pids."""
        node = self.node(name)
        killed: list[int] = []
        for _ in range(5):  # a dying postmaster's children are found on the next pass
            pids = node.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.1)
        return killed

    def down(self, *, remove: bool = True) -> None:
        for node in self.nodes:
            self.kill_node(node.name)
        pid = self.etcd_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)


# ----------------------------------------------------------------------------- helpers


def clean_env() -> dict[str, str]:
    """The environment for etcd and Patroni: the system's Python, not this project's venv."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PG")}
    env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env["HOME"] = str(Path(tempfile.gettempdir()))
    return env


def server_user() -> dict[str, Any]:
    """Popen arguments that run a child as the `postgres` OS user when this runs as root
    (initdb and the server refuse to run as root)."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(OS_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def as_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(OS_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(0o700)


def check_reachable(root: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        raise HAClusterError(f"running as root and there is no {OS_USER!r} OS user") from None
    for parent in (root, *root.parents):
        if not parent.stat().st_mode & 0o001:
            raise HAClusterError(
                f"{parent} is not searchable by the {OS_USER!r} OS user that runs the nodes; "
                "put the cluster under a directory it can reach, e.g. /tmp"
            )


def wait_for(condition: Any, timeout: float, what: str, *, logs: list[Path] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    tail = ""
    for log in logs or []:
        with contextlib.suppress(OSError):
            lines = log.read_text(errors="replace").splitlines()[-5:]
            tail += f"\n--- {log}:\n" + "\n".join(lines)
    raise HAClusterError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")


def print_status(cluster: HACluster, as_json: bool) -> None:
    nodes = cluster.status()
    if as_json:
        print(json.dumps(nodes))
        return
    for node in nodes:
        pids = " ".join(str(p) for p in node["pids"]) or "-"
        print(f"{node['name']}  {node['role']:<8} port {node['port']}  pids {pids}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ha-cluster", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="build and start etcd and three Patroni nodes")
    up.add_argument("--dir", type=Path, required=True)
    up.add_argument("--base-port", type=int, default=None, help="nodes on N+1..N+3")
    status = sub.add_parser("status", help="each node's role, port and processes")
    status.add_argument("--dir", type=Path, required=True)
    status.add_argument("--json", action="store_true")
    start = sub.add_parser("start", help="start a stopped node (node1..node3) or etcd")
    start.add_argument("node")
    start.add_argument("--dir", type=Path, required=True)
    switch = sub.add_parser("switchover", help="hand the primary role to the sync standby")
    switch.add_argument("--dir", type=Path, required=True)
    down = sub.add_parser("down", help="stop everything and delete the directory")
    down.add_argument("--dir", type=Path, required=True)
    down.add_argument("--keep", action="store_true", help="keep the data directories")
    args = parser.parse_args(argv)

    try:
        if args.action == "up":
            missing = missing_packages()
            if missing:
                raise HAClusterError("missing packages: " + "; ".join(missing))
            if (args.dir / STATE_FILE).exists():
                raise HAClusterError(f"{args.dir} already holds a cluster")
            cluster = HACluster.plan(args.dir, args.base_port)
            try:
                cluster.up()
            except BaseException:
                cluster.down(remove=False)
                raise
            print(json.dumps({"writer": cluster.writer_url(), "reader": cluster.reader_url()}))
            return 0
        cluster = HACluster.load(args.dir)
        if args.action == "status":
            print_status(cluster, args.json)
        elif args.action == "start":
            cluster.start(args.node)
        elif args.action == "switchover":
            old, new = cluster.switchover()
            print(json.dumps({"from": old, "to": new}))
        elif args.action == "down":
            cluster.down(remove=not args.keep)
    except (HAClusterError, psycopg.Error, OSError) as error:
        print(f"ha-cluster: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
