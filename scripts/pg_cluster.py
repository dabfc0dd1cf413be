"""pg-cluster: a throwaway PostgreSQL primary plus a synchronous hot standby, on loopback ports.

    scripts/pg-cluster up DIR [--port P]   build and start (primary on P, standby on P+1;
                                           free ports when --port is left out); prints URLs
    scripts/pg-cluster status DIR          role, pid and replication state of both servers
    scripts/pg-cluster promote DIR         promote the standby (after the primary died)
    scripts/pg-cluster kill-primary DIR    SIGKILL the primary's postmaster (fault drills)
    scripts/pg-cluster down DIR [--keep]   stop both servers and delete DIR (--keep keeps it)

The servers run as the `postgres` OS user when started as root. Port 5432, the machine's own
cluster, is refused. Use the printed URLs as CIVLEDGER_STORE (primary) and
CIVLEDGER_EVENTS_FROM (standby). See docs/operations.md.

`scripts/pg-cluster` runs this module (`python -m scripts.pg_cluster`) with the project's venv.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tests.faults.cluster import Cluster, ClusterError, unavailable_reason


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pg-cluster", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="build and start a primary and a synchronous standby")
    up.add_argument("dir", type=Path)
    up.add_argument("--port", type=int, default=None, help="primary port (standby: port + 1)")
    for name, text in (
        ("status", "show both servers' state"),
        ("promote", "promote the standby"),
        ("kill-primary", "SIGKILL the primary's postmaster"),
    ):
        sub.add_parser(name, help=text).add_argument("dir", type=Path)
    down = sub.add_parser("down", help="stop both servers and remove the directory")
    down.add_argument("dir", type=Path)
    down.add_argument("--keep", action="store_true", help="keep the data directories")
    args = parser.parse_args(argv)

    try:
        if args.action == "up":
            reason = unavailable_reason()
            if reason:
                print(f"pg-cluster: error: {reason}", file=sys.stderr)
                return 1
            if (args.dir / "cluster.json").exists():
                print(f"pg-cluster: error: {args.dir} already holds a cluster", file=sys.stderr)
                return 1
            cluster = Cluster.plan(args.dir, args.port)
            try:
                cluster.up()
            except BaseException:
                cluster.down(remove=False)
                raise
            print(f"CIVLEDGER_STORE={cluster.primary.url()}")
            print(f"CIVLEDGER_EVENTS_FROM={cluster.standby.url()}")
            return 0
        cluster = Cluster.load(args.dir)
        if args.action == "status":
            print(json.dumps(cluster.status(), indent=2))
        elif args.action == "promote":
            cluster.promote()
            print(f"promoted; CIVLEDGER_STORE={cluster.standby.url()}")
        elif args.action == "kill-primary":
            print(f"killed postmaster {cluster.kill_primary()}")
        elif args.action == "down":
            cluster.down(remove=not args.keep)
    except ClusterError as error:
        print(f"pg-cluster: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
