"""A rebuild killed partway leaves the old model serving and resumes to a clean rebuild's result;
`projections follow` keeps the models current and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from application.register import CivilRegister
from bench.event_log import write_log
from domain.commands import Clerking, RegisterBirth
from importer.synthetic import DENSE
from projections.engine import PROJECTION_NAMES, Engine
from projections.views import ViewDatabase
from tests.projections.conftest import engine_for

ROOT = Path(__file__).resolve().parents[2]
#: How long a test waits for another process before it gives up (not a timing assertion).
PATIENCE = 60.0


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def test_a_killed_rebuild_leaves_the_old_model_and_resumes_to_a_clean_result(
    store_url: str, tmp_path: Path
) -> None:
    register = CivilRegister(store_url)
    write_log(register, people=300, seed=1, rates=DENSE)
    engine = engine_for(register)
    engine.catch_up()
    old_digest = engine.digest()
    old_positions = engine.views.positions()
    # The rebuild will see these; the old model not.
    write_log(register, people=300, seed=2, rates=DENSE)

    rebuild = _cli("projections", "rebuild", "--batch-size", "3", "--store", store_url, "--json")
    watcher = ViewDatabase.open(store_url)
    try:
        _wait_for(
            lambda: watcher.positions().get("people__rebuild", 0) > 0 or rebuild.poll() is not None,
            "the rebuild to commit a batch",
        )
        assert rebuild.poll() is None, "the rebuild finished before it could be killed"
        readings = []
        for _ in range(5):  # readers meanwhile see the old model, whole
            readings.append(engine.digest())
        rebuild.send_signal(signal.SIGKILL)
        rebuild.communicate(timeout=PATIENCE)
    finally:
        watcher.close()
    assert rebuild.returncode == -signal.SIGKILL
    assert all(reading == old_digest for reading in readings)
    assert engine.digest() == old_digest
    positions = engine.views.positions()
    assert {name: positions[name] for name in old_positions} == old_positions
    assert 0 < positions["people__rebuild"] < (register.recorder.max_notification_id() or 0)

    engine.batch_size = 500
    engine.rebuild()
    clean = engine_for(register, views=f"sqlite:///{tmp_path / 'clean.sqlite'}")
    clean.rebuild()
    assert engine.digest() == clean.digest()
    assert engine.digest() != old_digest
    assert "people__rebuild" not in engine.views.positions()
    register.close()


def test_follow_shows_new_events_and_stops_cleanly_on_ctrl_c(store_url: str) -> None:
    register = CivilRegister(store_url)
    follower = _cli("projections", "follow", "--store", store_url)
    views = ViewDatabase.open(store_url)
    try:
        act = RegisterBirth.parse(
            name="Nguyễn Văn An", sex="male", born="1990-03-04", province="001"
        )
        basis = Clerking.parse(clerk="Lê Thị Lan", office="HN-BADINH", reference="KS-1")
        number = register.register_birth(act, basis).person.id_number

        def shown() -> bool:
            return views.has_table("view_id_numbers") and bool(
                views.query("SELECT 1 FROM view_id_numbers WHERE id_number = ?", (number,))
            )

        _wait_for(lambda: shown() or follower.poll() is not None, "the follower")
        assert follower.poll() is None, follower.communicate()
        follower.send_signal(signal.SIGINT)
        _, err = follower.communicate(timeout=PATIENCE)
    finally:
        views.close()
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, err
    assert "stopped" in err
    assert "Traceback" not in err
    register.close()


def test_follow_in_process_stops_when_asked(store_url: str) -> None:
    register = CivilRegister(store_url)
    write_log(register, people=20, rates=DENSE)
    engine = engine_for(register, batch_size=7)
    stop = threading.Event()
    heads: list[int] = []

    def seen(head: int) -> None:
        heads.append(head)
        stop.set()

    engine.follow(stop, on_batch=seen)
    assert heads == [register.recorder.max_notification_id()]
    assert all(s.lag == 0 for s in engine.status())
    register.close()


def test_two_workers_catching_up_the_same_models_apply_each_event_once(
    store_url: str, tmp_path: Path
) -> None:
    register = CivilRegister(store_url)
    write_log(register, people=150, seed=3, rates=DENSE)
    workers = [engine_for(register, batch_size=13) for _ in range(2)]
    errors: list[BaseException] = []

    def work(engine: Engine) -> None:
        try:
            engine.catch_up()
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    clean = engine_for(register, views=f"sqlite:///{tmp_path / 'clean.sqlite'}")
    clean.catch_up()
    assert workers[0].digest() == clean.digest()
    register.close()


def test_a_rebuild_under_a_running_follower_ends_equal_to_a_clean_build(
    store_url: str, tmp_path: Path
) -> None:
    register = CivilRegister(store_url)
    write_log(register, people=150, seed=4, rates=DENSE)
    follower = engine_for(register, batch_size=11)
    stop = threading.Event()
    thread = threading.Thread(target=follower.follow, args=(stop,))
    thread.start()
    try:
        write_log(register, people=100, seed=5, rates=DENSE)  # the follower keeps applying these
        rebuilder = engine_for(register, batch_size=17)
        rebuilder.rebuild()
        write_log(register, people=50, seed=6, rates=DENSE)
        head = register.recorder.max_notification_id() or 0
        _wait_for(
            lambda: min(rebuilder.views.positions().get(n, 0) for n in PROJECTION_NAMES) >= head,
            "the follower to reach the head",
        )
    finally:
        stop.set()
        thread.join()
    clean = engine_for(register, views=f"sqlite:///{tmp_path / 'clean.sqlite'}")
    clean.catch_up()
    assert rebuilder.digest() == clean.digest()
    register.close()


def test_ctrl_c_while_catching_up_stops_between_batches_and_a_second_one_at_once(
    store_url: str, tmp_path: Path
) -> None:
    register = CivilRegister(store_url)
    write_log(register, people=400, seed=8, rates=DENSE)
    for presses in (1, 2):
        follower = _cli("projections", "follow", "--batch-size", "3", "--store", store_url)
        views = ViewDatabase.open(store_url)
        try:
            started = views.positions().get("people", 0)

            def moved(
                views: ViewDatabase = views,
                follower: subprocess.Popen[str] = follower,
                started: int = started,
            ) -> bool:
                return views.positions().get("people", 0) > started or follower.poll() is not None

            _wait_for(moved, "the follower to commit a batch")
            for _ in range(presses):
                follower.send_signal(signal.SIGINT)
            _, err = follower.communicate(timeout=PATIENCE)
            stored = views.positions()
        finally:
            views.close()
            if follower.poll() is None:
                follower.kill()
        assert follower.returncode == 0, err
        assert "Traceback" not in err
        assert f"people at {stored['people']:,}" in err  # what it reports is what it committed
        assert stored["people"] < (register.recorder.max_notification_id() or 0)
    clean = engine_for(register, views=f"sqlite:///{tmp_path / 'clean.sqlite'}")
    clean.catch_up()
    live = engine_for(register)
    live.catch_up()
    assert live.digest() == clean.digest()  # nothing applied twice or skipped
    register.close()
