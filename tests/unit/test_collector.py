"""Bulk jobs tune the garbage collector for their duration only, even when they overlap."""

from __future__ import annotations

import gc
import threading

from infrastructure.collector import fewer_collections


def test_settings_hold_during_a_job_and_are_restored_after() -> None:
    before = gc.get_threshold()
    with fewer_collections(12_345):
        assert gc.get_threshold()[0] == 12_345
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_overlapping_jobs_restore_what_the_first_found_when_the_last_ends() -> None:
    before = gc.get_threshold()
    inside, leave = threading.Event(), threading.Event()

    def other_job() -> None:
        with fewer_collections(20_000):
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=other_job)
    with fewer_collections(30_000):
        thread.start()
        assert inside.wait(5)
    assert gc.get_threshold()[0] == 30_000  # the other job is still running
    leave.set()
    thread.join()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
