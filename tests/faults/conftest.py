"""Fixtures for the fault-injection suite: a throwaway primary + synchronous standby, and clerks.

Every fault here is a real one in a real process: a SIGKILLed clerk or writer, a killed
postmaster, a backend terminated by `pg_terminate_backend`. Nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest

from scripts.ha_cluster import HACluster, missing_packages
from tests.conftest import REQUIRE_POSTGRES
from tests.faults.cluster import Cluster, unavailable_reason

ROOT = Path(__file__).resolve().parents[2]

#: What every clerk process of this suite shares; a short connect timeout keeps a clerk
#: facing a dead primary from waiting out the library's ten retries at five seconds each.
CLERK_ENV = {
    "CIVLEDGER_CLERK": "fault-drill",
    "CIVLEDGER_OFFICE": "HN-01",
    "CIVLEDGER_CONNECT_TIMEOUT": "2",
}


def clerk_env(store: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVLEDGER_")}
    return {**env, **CLERK_ENV, "CIVLEDGER_STORE": store, **extra}


def civledger(
    *args: str, store: str, timeout: float = 120, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run one `civledger` command in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=clerk_env(store, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_civledger(*args: str, store: str, **extra: str) -> subprocess.Popen[str]:
    """Start one `civledger` command in its own process, without waiting for it."""
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=clerk_env(store, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng")
MIDDLE = ("Thị", "Văn", "Minh", "Ngọc", "Thu", "Đức", "Thanh", "Hữu")
GIVEN = ("Hoa", "An", "Bình", "Cúc", "Dũng", "Giang", "Hạnh", "Khánh", "Lan", "Mai", "Nam")


def birth_of(reference: str) -> dict[str, str]:
    """A birth whose name and date derive from its reference, so no two look alike."""
    n = zlib.crc32(reference.encode())
    name = f"{FAMILY[n % 10]} {MIDDLE[n // 10 % 8]} {GIVEN[n // 80 % 11]}"
    born = date(1960, 1, 1) + timedelta(days=n // 880 % 20000)
    return {"name": name, "sex": ("male", "female")[n % 2], "born": born.isoformat()}


def birth_args(reference: str) -> list[str]:
    birth = birth_of(reference)
    return [
        "register-birth",
        "--name",
        birth["name"],
        "--sex",
        birth["sex"],
        "--born",
        birth["born"],
        "--province",
        "001",
        "--reference",
        reference,
    ]


@contextmanager
def running_cluster() -> Iterator[Cluster]:
    """A fresh primary + synchronous hot standby with the ledger's schema, removed afterwards."""
    reason = unavailable_reason()
    if reason is not None:
        message = f"!!! no local PostgreSQL cluster can be built ({reason}); fault tests NOT RUN"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="civledger-cluster-", dir="/tmp"))
    root.chmod(0o755)  # the servers run as another OS user
    cluster = Cluster.plan(root / "pg")
    try:
        cluster.up()
        init = civledger("init", store=cluster.primary.url())
        assert init.returncode == 0, init.stderr
        yield cluster
    finally:
        cluster.down(remove=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_cluster() -> Iterator[Cluster]:
    """A cluster for one test (the tests that kill, promote or restart servers)."""
    with running_cluster() as cluster:
        yield cluster


@contextmanager
def running_ha_cluster() -> Iterator[HACluster]:
    """A fresh etcd + three Patroni nodes (scripts/ha_cluster.py) with the ledger's schema,
    removed afterwards. Fails instead of skipping under CIVLEDGER_REQUIRE_POSTGRES=1."""
    missing = missing_packages()
    if missing:
        message = f"!!! no Patroni cluster can be built ({'; '.join(missing)}); HA tests NOT RUN"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="civledger-ha-", dir="/tmp"))
    root.chmod(0o755)  # the nodes run as another OS user
    cluster = HACluster.plan(root / "ha")
    try:
        cluster.up()
        init = civledger("init", store=cluster.writer_url())
        assert init.returncode == 0, init.stderr
        yield cluster
    finally:
        cluster.down(remove=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def ha_cluster() -> Iterator[HACluster]:
    """A Patroni cluster for one test (the tests that kill nodes or switch the primary over)."""
    with running_ha_cluster() as cluster:
        yield cluster
