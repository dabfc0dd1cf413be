"""scripts/ha_cluster.py without a cluster: what it refuses, and the URLs and ports it plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.store_url import StoreURL
from scripts import ha_cluster


def test_up_names_the_missing_packages_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    target = tmp_path / "cluster"
    assert ha_cluster.main(["up", "--dir", str(target)]) == 1
    err = capsys.readouterr().err
    assert "patroni (no `patroni` on PATH)" in err
    assert "etcd-server (no `etcd` on PATH)" in err
    assert not target.exists()


def test_a_command_on_a_directory_without_a_cluster_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ha_cluster.main(["status", "--dir", str(tmp_path), "--json"]) == 1
    assert "no cluster at" in capsys.readouterr().err


def test_the_planned_urls_name_every_node_and_parse_as_store_urls(tmp_path: Path) -> None:
    cluster = ha_cluster.HACluster(
        root=str(tmp_path),
        scope="s",
        base_port=5460,
        etcd_port=23790,
        etcd_peer_port=23791,
        nodes=[
            ha_cluster.Node(name, port, port + 10, str(tmp_path / name))
            for name, port in zip(ha_cluster.NODE_NAMES, (5461, 5462, 5463), strict=True)
        ],
    )
    writer = StoreURL.parse(cluster.writer_url())
    reader = StoreURL.parse(cluster.reader_url())
    assert writer.port == reader.port == "5461,5462,5463"
    assert writer.target_session_attrs == "read-write"
    assert reader.target_session_attrs == "prefer-standby"
    config = cluster.patroni_config(cluster.nodes[1])
    assert config["etcd3"] == {"hosts": ["127.0.0.1:23790"]}
    assert config["restapi"]["listen"] == "127.0.0.1:5472"
    assert config["postgresql"]["pgpass"] == str(tmp_path / "node2" / "pgpass")
    assert config["bootstrap"]["dcs"]["synchronous_mode_strict"] is True


def test_the_ports_are_the_documented_block_and_5432_is_refused(tmp_path: Path) -> None:
    # docs/operations.md: PostgreSQL on N+1..N+3, the REST APIs on N+11..N+13.
    assert ha_cluster.node_ports(5440) == [5441, 5442, 5443, 5451, 5452, 5453]
    with pytest.raises(ha_cluster.HAClusterError, match="5432"):
        ha_cluster.HACluster.plan(tmp_path, base_port=5431)
