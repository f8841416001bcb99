"""Run one contender in a fresh child process, bounded in time, and collect its numbers.

Peak RSS is the child's own ``VmHWM`` (high-water mark of its process image after exec).
``wait4``'s ``ru_maxrss`` is kept as ``maxrss_mb`` for comparison only: Linux folds the
parent's high-water mark into it at fork+exec, so it never reads below the harness's size,
and ``RUSAGE_CHILDREN`` is, besides, a running maximum over all children.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from extract_contenders import Job, Outcome

CHILD = Path(__file__).with_name("extract_contenders.py")
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Measurement:
    """One contender run: its own timing and row check, and its peak RSS."""

    contender: str
    dialect: str
    rows: int
    seconds: float
    peak_mb: float
    maxrss_mb: float
    baseline_mb: float
    schema: str
    error: str | None
    rss_profile: tuple[float, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.ok and self.seconds > 0 else 0.0


def _wait(pid: int, timeout: float) -> tuple[int, float, bool]:
    """Wait for pid at most timeout seconds (then kill its process group); status, MB, killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage.ru_maxrss / 1024, False
        time.sleep(POLL_SECONDS)
    os.killpg(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    return status, usage.ru_maxrss / 1024, True


def run_child(job: Job, timeout: float, log_path: Path) -> Measurement:
    """Start the child for job, wait (bounded), and read its outcome file."""
    result = Path(job.result_file)
    result.unlink(missing_ok=True)
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), json.dumps(asdict(job))],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            status, maxrss_mb, killed = _wait(proc.pid, timeout)
        except BaseException:  # Ctrl-C: the child has its own session and would run on
            os.killpg(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    if killed:
        failure = f"killed after the {timeout:.0f} s timeout"
        outcome = Outcome(0.0, 0, maxrss_mb, 0.0, "", failure)
    elif not result.exists():
        failure = f"exited {proc.returncode} with no result; see {log_path}"
        outcome = Outcome(0.0, 0, maxrss_mb, 0.0, "", failure)
    else:
        outcome = Outcome(**json.loads(result.read_text()))
    return Measurement(
        contender=job.contender,
        dialect=job.dialect,
        rows=outcome.rows,
        seconds=outcome.seconds,
        peak_mb=outcome.peak_mb,
        maxrss_mb=maxrss_mb,
        baseline_mb=outcome.baseline_mb,
        schema=outcome.schema,
        error=outcome.error,
        rss_profile=tuple(outcome.rss_profile),
    )
