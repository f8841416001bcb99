"""The console script at exit: the objects the process still holds are frozen out of the
garbage collector, whose last passes over them would only precede handing the memory back
whole; the command's exit code and the atexit hooks are kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# `headwater ARGV…` as the console script runs it, with an atexit hook that says whether the
# collector's objects were frozen by then (hooks run after the command returns)
CHILD = """
import atexit, gc, sys
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0, flush=True))
from headwater.cli.app import main
sys.argv = ["headwater", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize(
    ("argv", "code"),
    [(["--help"], 0), (["stream", "list", "-p", "no-such-project"], 1)],
)
def test_a_command_exits_with_its_code_and_its_objects_frozen(
    tmp_path: Path, argv: list[str], code: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == code, done.stderr
    assert done.stdout.splitlines()[-1] == "frozen at exit: True"
    if code:
        assert "no headwater.yaml in" in done.stderr
