"""The cyclic garbage collector's settings during bulk jobs: imports and projection runs."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Net allocations between two collections of the youngest generation during a bulk job.
GC_THRESHOLD = 50_000


@contextmanager
def fewer_collections(threshold: int = GC_THRESHOLD) -> Iterator[None]:
    """Let the cyclic garbage collector run less often during a bulk job.

    An import or a rebuild allocates millions of short-lived objects, nearly all freed by
    reference counting, and the collector's default (a pass every 700 net allocations, a full
    pass every few hundred) then spends a tenth of the job scanning the same long-lived
    objects again. Those are frozen out of its sight, and the youngest generation is collected
    less often; memory stays bounded by the batch. Both are restored when the last job running ends.
    """
    with _lock:
        _active.append(threshold)
        if len(_active) == 1:
            _before[:] = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(threshold, *_before[1:])
    try:
        yield
    finally:
        with _lock:
            _active.pop()
            if not _active:  # the last job to finish restores what the first one found
                gc.set_threshold(*_before)
                gc.unfreeze()


_lock = threading.Lock()
_active: list[int] = []  # jobs running now, on any thread (the settings are per process)
_before: list[int] = list(gc.get_threshold())  # as the first job running found them
