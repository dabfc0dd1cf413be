"""The read-model database is a tracking recorder the library's own test case accepts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from eventsourcing.tests.persistence import TrackingRecorderTestCase

from projections.views import ViewDatabase
from tests.conftest import (
    ADMIN_URL,
    REQUIRE_POSTGRES,
    _postgres_answers,
    create_database,
    drop_database,
)


class TestSQLiteViewsAsTrackingRecorder(TrackingRecorderTestCase):
    def setUp(self) -> None:
        self.directory = tempfile.TemporaryDirectory()
        self.recorders: list[ViewDatabase] = []

    def tearDown(self) -> None:
        for recorder in self.recorders:
            recorder.close()
        self.directory.cleanup()

    def create_recorder(self) -> ViewDatabase:
        recorder = ViewDatabase.open(f"sqlite:///{Path(self.directory.name) / 'views.sqlite'}")
        self.recorders.append(recorder)
        return recorder


@pytest.mark.postgres
class TestPostgresViewsAsTrackingRecorder(TrackingRecorderTestCase):
    def setUp(self) -> None:
        problem = _postgres_answers()
        if problem is not None:
            message = f"!!! PostgreSQL at {ADMIN_URL} does not answer ({problem}); NOT RUN"
            if REQUIRE_POSTGRES or os.environ.get("CIVLEDGER_REQUIRE_POSTGRES") == "1":
                self.fail(message)
            self.skipTest(message)
        self.url = create_database(ADMIN_URL)
        self.recorders: list[ViewDatabase] = []

    def tearDown(self) -> None:
        for recorder in self.recorders:
            recorder.close()
        drop_database(ADMIN_URL, self.url)

    def create_recorder(self) -> ViewDatabase:
        recorder = ViewDatabase.open(self.url)
        self.recorders.append(recorder)
        return recorder
