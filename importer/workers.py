"""Parse worker processes: rows validated in other processes while a batch is decided."""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import BinaryIO, cast

from importer import wire
from importer.rows import Parsed, parse_chunk
from infrastructure.errors import WorkerFailed

#: What a parse worker is not given of the environment: it validates rows and never reads
#: the store, so it has no use for the cipher key or the store's credentials.
WORKER_WITHOUT = frozenset(
    {"CIVLEDGER_CIPHER_KEY", "CIPHER_KEY", "CIVLEDGER_STORE", "PGPASSWORD", "PGPASSFILE"}
)
#: Bytes a pipe to a parse worker holds (Linux; the most an unprivileged process may ask).
PIPE_SIZE = 1 << 20


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity, on Linux), at least 1: the most parse
    workers an import may ask for."""
    affinity = getattr(os, "sched_getaffinity", None)
    return max(len(affinity(0)) if affinity else (os.cpu_count() or 1), 1)


def default_parse_workers() -> int:
    """One parse worker when this process may run on more than one CPU, else none."""
    return 1 if available_cpus() > 1 else 0


def parsed_chunks(
    chunks: Iterator[list[tuple[int, bytes]]], workers: int
) -> Generator[Parsed, None, None]:
    """Parse chunks of lines, yielding them in file order.

    With workers, rows are validated in other processes (`importer.parse_worker`, the same
    `parse_chunk`) while the chunk before them is decided: each worker holds one chunk at a
    time, and the oldest is taken back first. The first chunk is parsed here while the
    workers start; a file of one chunk starts none. Closing the generator stops them.
    """
    first = next(chunks, None)
    if first is None:
        return
    ahead = list(itertools.islice(chunks, workers))
    if not ahead:
        yield parse_chunk(first)
        yield from map(parse_chunk, chunks)
        return
    with ParseWorkers(len(ahead)) as pool:
        for chunk in ahead:
            pool.submit(chunk)
        yield parse_chunk(first)
        for chunk in chunks:
            parsed = pool.take()
            pool.submit(chunk)  # to the worker just freed: it parses while `parsed` is decided
            yield parsed
        pool.close()  # nothing more to parse: the workers exit while the last chunks are decided
        while pool.busy:
            yield pool.take()


class ParseWorkers:
    """Worker processes, each parsing at most one chunk; results are taken back in order.

    A worker is sent a chunk only when it has nothing to send back, so neither side can
    block writing to the other. The workers run in a session of their own (a terminal's
    Ctrl-C is the importing process's to handle) and end when their stdin closes.
    """

    def __init__(self, count: int, *, report_environment: bool = False) -> None:
        """`report_environment`: each worker first sends back the environment it was given
        (`environment_of`), for tests of what a worker is told."""
        # `-P`: not the working directory's packages but this process's own, found where this
        # module was loaded from.
        command = [sys.executable, "-P", "-m", "importer.parse_worker"]
        if report_environment:
            command.append("--report-environment")
        root = str(Path(__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {k: v for k, v in os.environ.items() if k not in WORKER_WITHOUT}
        env["PYTHONPATH"] = root + os.pathsep + path if path else root
        # What each worker says on stderr, for the error should it stop (closed in __exit__).
        self.errors = [tempfile.TemporaryFile() for _ in range(count)]  # noqa: SIM115
        self.processes = [
            subprocess.Popen(  # noqa: S603 (this package's own worker module)
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=env,
                start_new_session=True,
            )
            for errors in self.errors
        ]
        for process in self.processes:  # a chunk and its rows fit: neither side waits on it
            for pipe in (process.stdin, process.stdout):
                with contextlib.suppress(OSError, AttributeError):
                    fcntl.fcntl(cast(BinaryIO, pipe).fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        self.order: deque[subprocess.Popen[bytes]] = deque()  # workers holding a chunk
        self.idle = list(self.processes)

    def environment_of(self, index: int) -> dict[str, str]:
        """The environment worker `index` reports it was given (see `report_environment`)."""
        reported = wire.receive(cast(BinaryIO, self.processes[index].stdout))
        if not isinstance(reported, dict):
            self._failed(self.processes[index])
        return cast(dict[str, str], reported)

    @property
    def busy(self) -> bool:
        return bool(self.order)

    def submit(self, lines: list[tuple[int, bytes]]) -> None:
        process = self.idle.pop(0)
        try:
            wire.send(cast(BinaryIO, process.stdin), lines)
        except OSError:
            self._failed(process)
        self.order.append(process)

    def take(self) -> Parsed:
        process = self.order.popleft()
        parsed = wire.receive(cast(BinaryIO, process.stdout))
        if not isinstance(parsed, Parsed):
            self._failed(process)
        self.idle.append(process)
        return cast(Parsed, parsed)

    def _failed(self, process: subprocess.Popen[bytes]) -> None:
        code = process.wait(timeout=10)
        errors = self.errors[self.processes.index(process)]
        errors.seek(0)
        said = [line for line in errors.read().decode("utf-8", "replace").splitlines() if line]
        cause = f": {' '.join(said[-1].split())}" if said else ""
        raise WorkerFailed(
            f"a parse worker stopped (exit code {code}{cause}); rows not yet reported were "
            "not recorded and a re-run is safe"
        )

    def close(self) -> None:
        """No more chunks: each worker exits once it has sent back what it holds."""
        for process in self.processes:
            if process.stdin:
                with contextlib.suppress(OSError):
                    process.stdin.close()

    def __enter__(self) -> ParseWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        for process in self.processes:
            if process.stdout:  # a worker still sending rows nobody will take (the import
                process.stdout.close()  # stopped early) gets a broken pipe and exits at once
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for errors in self.errors:
            errors.close()
