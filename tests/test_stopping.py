"""Stopping `headwater run` from outside: Ctrl-C and SIGTERM stop it within seconds and record
the run `cancelled`; a run whose process was killed is marked failed by the next `runs`; the
temporary folders of dead processes are swept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from headwater import Workspace
from headwater.state import RunStatus

# `headwater ...` in a fresh interpreter, as the console script runs it
CLI = [sys.executable, "-c", "from headwater.cli.app import main; main()"]


def _project(root: Path) -> Path:
    """A pipeline whose first task blocks in a C call for a minute (Python cannot interrupt
    a thread there), with a task after it that must never start."""
    (root / "pipelines").mkdir(parents=True)
    (root / "pipelines" / "slow.py").write_text(
        textwrap.dedent(
            """\
            import time
            from pathlib import Path

            def block(ctx):
                Path(ctx.run.root, "started").write_text(str(time.time()))
                time.sleep(60)

            def after(ctx):
                Path(ctx.run.root, "after-ran").write_text("yes")
            """
        )
    )
    (root / "headwater.yaml").write_text(
        textwrap.dedent(
            """\
            name: stopping
            pipelines:
              p:
                tasks:
                  - {name: block, python: "slow:block"}
                  - {name: after, python: "slow:after", depends_on: block}
            """
        )
    )
    return root


def _start(root: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [*CLI, "run", "p", "-p", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + 60
    while not (root / "started").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)
    return process


@pytest.mark.parametrize(
    ("sig", "code", "word", "why"),
    [
        (signal.SIGINT, 130, "interrupted", "interrupted (Ctrl-C)"),
        (signal.SIGTERM, 143, "terminated", "stopped by SIGTERM"),
    ],
)
def test_a_signal_stops_the_run_within_seconds_and_records_it_cancelled(
    tmp_path: Path, sig: signal.Signals, code: int, word: str, why: str
) -> None:
    root = _project(tmp_path / "p")
    process = _start(root)
    sent = time.monotonic()
    process.send_signal(sig)
    try:
        _, err = process.communicate(timeout=20)
    finally:
        process.kill()
    took = time.monotonic() - sent
    assert process.returncode == code, err
    assert took < 15, f"took {took:.1f} s to stop"
    assert word in err and "Traceback" not in err
    assert not (root / "after-ran").exists()
    with Workspace.open(root) as ws:
        [run] = ws.runs()
    assert (run.status, run.error) == (RunStatus.CANCELLED, why)
    assert {t.task_id: t.status.value for t in run.tasks} == {
        "block": "cancelled",
        "after": "cancelled",
    }


def test_a_killed_run_is_marked_failed_and_its_temporary_folders_are_swept(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path / "p")
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = _start(root, {"TMPDIR": str(temp)})
    # task states reach the store a moment after the task starts (the recorder writes them
    # in batches): kill once the store says `block` runs, as a long task's would
    deadline = time.monotonic() + 30
    while True:
        with Workspace.open(root) as ws:
            states = {t.task_id: t.status.value for r in ws.runs() for t in r.tasks}
        if states.get("block") == "running":
            break
        assert time.monotonic() < deadline, states
        time.sleep(0.05)
    process.kill()  # SIGKILL: nothing of the run's process runs any more
    process.communicate(timeout=20)
    # a folder the killed process could have left, and one of a live process
    left = temp / f"headwater-stage-{process.pid}-abc123"
    live = temp / f"headwater-stage-{os.getpid()}-def456"
    for folder in (left, live):
        (folder / "part").mkdir(parents=True)

    runs = subprocess.run(
        [*CLI, "runs", "-p", str(root)], capture_output=True, text=True, timeout=60, check=True
    )
    assert "failed" in runs.stdout and "running" not in runs.stdout
    with Workspace.open(root) as ws:
        [run] = ws.runs()
    assert run.status is RunStatus.FAILED
    assert run.error == (
        f"abandoned: the process that ran it (pid {process.pid}) ended without finishing it"
    )
    assert {t.task_id: t.status.value for t in run.tasks} == {
        "block": "failed",
        "after": "cancelled",
    }

    (root / "started").unlink()
    (root / "pipelines" / "slow.py").write_text(
        "def block(ctx):\n    pass\n\ndef after(ctx):\n    pass\n"
    )
    again = subprocess.run(
        [*CLI, "run", "p", "-p", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(temp)},
    )
    assert again.returncode == 0, again.stderr
    assert not left.exists()
    assert live.exists()


def test_stop_gracefully_sets_the_event_first_and_interrupts_the_second_time() -> None:
    from headwater.stopping import Terminated, stop_gracefully

    before = signal.getsignal(signal.SIGTERM)
    with stop_gracefully() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)  # the first signal only asks
        with pytest.raises(Terminated, match="^$"):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises here
    assert signal.getsignal(signal.SIGTERM) is before
