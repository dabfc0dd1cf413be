"""`make demo`: a short scripted scenario on a fresh SQLite file, printed as it runs.

Every step is a real `civledger` command, so the output shows exactly what a clerk types.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    """Run the scenario in a temporary directory, removed afterwards (also after Ctrl-C)."""
    try:
        with tempfile.TemporaryDirectory(prefix="civledger-demo-") as workdir:
            scenario(Path(workdir))
    except KeyboardInterrupt:
        sys.stderr.write("civledger demo: interrupted\n")
        sys.exit(130)


def scenario(workdir: Path) -> None:
    store = f"sqlite:///{workdir / 'demo.sqlite'}"
    env = {
        **os.environ,
        "CIVLEDGER_STORE": store,
        "CIVLEDGER_CLERK": "Lê Thị Lan",
        "CIVLEDGER_OFFICE": "HN-BADINH",
    }

    def civledger(*args: str, show: bool = True) -> str:
        if show:
            print(f"\n$ civledger {shlex.join(args)}")
        done = subprocess.run(  # noqa: S603 (runs this package's own CLI)
            [sys.executable, "-m", "cli.main", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        out = done.stdout.rstrip()
        if show and out:
            print(out)
        if done.stderr.strip():
            print(done.stderr.rstrip())
        if show and done.returncode:
            print(f"(exit {done.returncode})")
        return out

    print(f"civledger demo: a fresh register in {store} (removed at the end)")
    civledger("init")
    print("\n# Births: each gets a personal ID number PPP C YY NNNNNN.")
    mother = civledger(
        "register-birth",
        "--name",
        "Trần Thị Bình",
        "--sex",
        "female",
        "--born",
        "1962-08-19",
        "--province",
        "001",
        "--ethnicity",
        "Kinh",
        "--registered-on",
        "1962-09-01",
        "--reference",
        "KS-1962-0412",
    )
    an = civledger(
        "register-birth",
        "--name",
        "Nguyễn Văn An",
        "--sex",
        "male",
        "--born",
        "1990-03-04",
        "--province",
        "001",
        "--mother",
        mother,
        "--registered-on",
        "1990-03-20",
        "--reference",
        "KS-1990-1187",
    )
    hoa = civledger(
        "register-birth",
        "--name",
        "Phạm Thị Hoa",
        "--sex",
        "female",
        "--born",
        "1978-11-30",
        "--province",
        "079",
        "--registered-on",
        "1978-12-15",
        "--reference",
        "KS-1978-0301",
        "--office",
        "HCM-Q1",
    )
    print("\n# A retry of the same act writes nothing and reports the same number.")
    civledger(
        "register-birth",
        "--name",
        "Nguyễn Văn An",
        "--sex",
        "male",
        "--born",
        "1990-03-04",
        "--province",
        "001",
        "--mother",
        mother,
        "--registered-on",
        "1990-03-20",
        "--reference",
        "KS-1990-1187",
    )
    print("\n# Identity cards: the 2021 chip-card campaign. A card runs to the day before the")
    print("# next renewal age (14, 25, 40, 60); issued at 58 or over it never expires.")
    civledger(
        "issue-card", an, "--reason", "first", "--effective", "2021-04-01",
        "--reference", "CC-2021-HN-0001",
    )  # fmt: skip
    civledger(
        "issue-card", mother, "--reason", "first", "--effective", "2021-04-02",
        "--reference", "CC-2021-HN-0002",
    )  # fmt: skip
    civledger(
        "issue-card", hoa, "--reason", "first", "--effective", "2021-04-10",
        "--reference", "CC-2021-HCM-0001", "--office", "HCM-Q1",
    )  # fmt: skip
    civledger("create-eid", an, "--effective", "2022-05-01", "--reference", "DD-2022-0001")
    print("\n# A correction of the year of birth cancels the number and assigns a new one.")
    civledger(
        "change-record",
        an,
        "--field",
        "born",
        "--value",
        "1989-03-04",
        "--kind",
        "correction",
        "--reference",
        "CC-2024-0007",
        "--effective",
        "2024-05-02",
    )
    print("\n# The card no longer matches the record: it is renewed for the new number.")
    civledger(
        "issue-card", an, "--reason", "number_reissued", "--effective", "2024-05-20",
        "--reference", "CC-2024-HN-0107",
    )  # fmt: skip
    civledger("card", "show", an)
    print("\n# A death, and a renunciation of nationality (which revokes the card).")
    civledger(
        "record-death",
        mother,
        "--died-on",
        "2023-12-01",
        "--place",
        "Hà Nội",
        "--reference",
        "KT-2023-0950",
    )
    civledger(
        "renounce-nationality",
        hoa,
        "--effective",
        "2021-07-01",
        "--reference",
        "QD-1234/QĐ-CTN",
        "--office",
        "HCM-Q1",
    )
    print("\n# A look-alike birth (same name, date of birth, province) is refused (exit 3)...")
    look_alike = (
        "register-birth", "--name", "Nguyễn Văn An", "--sex", "male", "--born", "1989-03-04",
        "--province", "001", "--registered-on", "2010-06-01", "--reference", "KS-2010-5521",
        "--office", "HN-HOANKIEM",
    )  # fmt: skip
    civledger(*look_alike)
    print("\n# ...unless the clerk confirms it; later found to be An, it is merged into the")
    print("# earliest record, and its number is cancelled.")
    duplicate = civledger(*look_alike, "--allow-possible-duplicate")
    current = civledger("show", an, "--json", show=False)
    survivor = json.loads(current)["id_number"]
    civledger("merge-duplicate", duplicate, "--into", survivor, "--reference", "GB-2024-0002")
    print("\n# A rule refuses an act on a deceased person (exit 3), and writes nothing.")
    civledger("renounce-nationality", mother, "--effective", "2024-01-01", "--reference", "QD-9999")
    print("\n# What the register says now, and how it got there.")
    civledger("show", an)
    civledger("show", duplicate)
    civledger("history", an)
    print("\n# The register's statistics, from read models rebuilt from the events.")
    civledger("report")


if __name__ == "__main__":
    main()
