"""SIGINT and SIGTERM at seeded random moments of `headwater run` loading a MariaDB source: the
process exits within seconds with 130 or 143, the run and its unfinished tasks are recorded
`cancelled`, no temporary folder of the process is left, and the next run equals the source."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from headwater import Workspace, tempdirs
from headwater.orchestrate.context import TaskInterrupted
from headwater.orchestrate.executor import LocalExecutor
from headwater.state import RunStatus
from tests import fault_support as fs

pytestmark = [pytest.mark.faults, pytest.mark.mysql]

ROWS = 100_000
SEED = 4417
TRIALS = ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGTERM, 143))


def test_sigint_and_sigterm_at_random_moments_cancel_the_run_cleanly(
    tmp_path: Path, mysql_url: str
) -> None:
    engine = sa.create_engine(mysql_url)
    root = fs.project(tmp_path / "p", mysql_url)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {"TMPDIR": str(temp)}
    rng = random.Random(SEED)
    last = ROWS
    try:
        fs.create(engine, ROWS)
        fs.run_to_completion(root, env)
        # how long a trial's run takes on this machine, from its record to its end: the
        # signals land inside it, however fast or loaded the machine is
        fs.insert(engine, last + 1, last + ROWS, version=1)
        last += ROWS
        fs.update(engine, version=1)
        process = fs.cli(root, "run", "p", env=env)
        fs.wait_for_run(root, process, runs_before=1)
        started = time.monotonic()
        process.communicate(timeout=120)
        assert process.returncode == 0
        span = time.monotonic() - started
        for trial, (sig, code) in enumerate(TRIALS):
            fs.insert(engine, last + 1, last + ROWS, version=trial + 2)
            last += ROWS
            fs.update(engine, version=trial + 2)
            process = fs.cli(root, "run", "p", env=env)
            fs.wait_for_run(root, process, runs_before=2 * trial + 2)
            time.sleep(rng.uniform(0.0, 0.6) * span)
            process.send_signal(sig)
            try:
                _, err = process.communicate(timeout=15)
            finally:
                process.kill()
                process.communicate()  # reaped, whatever happened
            assert process.returncode == code, err
            assert "Traceback" not in err, err
            with Workspace.open(root) as ws:
                run = ws.runs()[0]
            assert run.status is RunStatus.CANCELLED, (run.status, run.error)
            statuses = {t.task_id: t.status.value for t in run.tasks}
            assert set(statuses.values()) <= {"success", "cancelled"}, statuses
            assert "cancelled" in statuses.values()
            assert not [p for p in temp.iterdir() if f"-{process.pid}-" in p.name]

            fs.run_to_completion(root, env)
            assert fs.lake_numbers(root) == fs.source_numbers(engine), f"after {sig.name}"
    finally:
        engine.dispose()


def test_an_interruption_dropped_in_a_finalizer_is_sent_again() -> None:
    """Python drops an exception raised in a finalizer (importlib's module locks run one on
    every import): the stopped task must still stop, and no traceback is printed."""
    in_finalizer = threading.Event()

    class Finalized:
        def __del__(self) -> None:
            in_finalizer.set()
            end = time.monotonic() + 1.0
            while time.monotonic() < end:  # Python lines: the interruption lands here
                pass

    def task() -> str:
        thing = Finalized()
        del thing
        end = time.monotonic() + 20
        while time.monotonic() < end:
            pass
        return "finished"

    executor = LocalExecutor(max_workers=1)
    try:
        future = executor.submit(task)
        assert in_finalizer.wait(60)
        executor.stop(future)
        assert type(future.exception(timeout=60)) is TaskInterrupted
    finally:
        executor.shutdown()


def test_a_stopped_command_removes_its_own_temporary_folders(tmp_path: Path) -> None:
    own = tmp_path / f"headwater-stage-{os.getpid()}-abc"
    other = tmp_path / f"headwater-stage-{os.getppid()}-def"
    for folder in (own, other):
        (folder / "part").mkdir(parents=True)
    assert tempdirs.remove_own(tmp_path) == [own]
    assert not own.exists() and other.exists()
