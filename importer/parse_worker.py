"""A bulk import's parse worker: `python -m importer.parse_worker`, started by `importer.workers`.

It reads chunks of numbered lines from stdin and writes back, for each, what the importing
process would make of them itself (`importer.rows.parse_chunk`): the rows that passed the
command models and the rows they rejected, as frames (`importer.wire`). It parses one chunk at
a time and exits when stdin ends, so it never outlives the importing process (not even one
killed with SIGKILL). It writes nothing anywhere else.

Started with `--report-environment`, it first sends back the environment it was
given, so that a test can see what a worker receives (its own report, not a
read of `/proc`, which can be empty or not yet the worker's).
"""

from __future__ import annotations

import os
import signal
import sys

from importer import wire


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the importing process's
    from importer.rows import parse_chunk
    from infrastructure.collector import fewer_collections
    from infrastructure.settings import configure_from_env

    configure_from_env()  # the same reference data as the importing process
    if "--report-environment" in sys.argv[1:]:
        wire.send(sys.stdout.buffer, dict(os.environ))
    with fewer_collections():
        while (lines := wire.receive(sys.stdin.buffer)) is not None:
            try:
                wire.send(sys.stdout.buffer, parse_chunk(lines))
            except BrokenPipeError:  # the import stopped and will not take these rows
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return


if __name__ == "__main__":
    main()
