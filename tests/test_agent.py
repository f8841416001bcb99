"""The resident agent: commands handed to it behave as they do on their own, only sooner.

Every test starts a real agent (``headwater agent start``) on a socket of its own and runs the
installed ``headwater`` command against it, comparing with the same command run cold
(``HEADWATER_AGENT=off``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from headwater.agent import wire
from tests.orchestration_support import make_project, unique

EXE = Path(sys.executable).parent / "headwater"


@dataclass
class Agent:
    socket: Path
    env: dict[str, str]

    def run(
        self, *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        return _headwater(args, cwd, env or self.env, stdin)

    def cold(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return _headwater(args, cwd, {**self.env, "HEADWATER_AGENT": "off"}, "")

    def status(self) -> dict[str, object] | None:
        from headwater.agent import control

        return control.status(self.socket)


def _headwater(
    args: tuple[str, ...], cwd: Path, env: dict[str, str], stdin: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXE), *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _start(env: dict[str, str]) -> None:
    started = subprocess.run(
        [str(EXE), "agent", "start"], env=env, capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 0, started.stderr


@contextmanager
def _running_agent(**extra: str) -> Iterator[Agent]:
    # a short folder of its own: a socket path may not exceed 107 bytes
    folder = Path(tempfile.mkdtemp(prefix="hwa-"))
    path = folder / "agent.sock"
    env = {**os.environ, "HEADWATER_AGENT": "on", "HEADWATER_AGENT_SOCKET": str(path), **extra}
    try:
        _start(env)
        yield Agent(path, env)
    finally:
        subprocess.run([str(EXE), "agent", "stop"], env=env, capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    """One agent for the tests that leave it running."""
    with _running_agent() as running:
        yield running


TASKS = """
import os, signal, sys, time
from headwater import pipeline, task

@task
def where():
    cwd, line = os.path.basename(os.getcwd()), sys.stdin.readline().strip()
    return f"{os.environ.get('PROBE')}|{cwd}|{line}|{time.localtime().tm_gmtoff}"

@pipeline
def probe():
    where()

@task
def crash():
    os._exit(7)

@pipeline
def crashes():
    crash()

@task
def killed():
    os.kill(os.getpid(), signal.SIGKILL)

@pipeline
def killed_by_signal():
    killed()

@task
def nap():
    open("napping", "w").close()
    time.sleep(3)  # a Ctrl-C'ed process waits for its running task, cold or not

@pipeline
def sleeper():
    nap()

@task
def long_nap():
    open("napping", "w").close()
    time.sleep(300)

@pipeline
def long_sleeper():
    long_nap()
"""


def _project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj", "pipelines: {}\n", {unique("agent_tasks"): TASKS})


def _served(agent: Agent) -> int:
    status = agent.status()
    assert status is not None
    served = status["served"]
    assert isinstance(served, int)
    return served


def test_a_command_through_the_agent_gets_the_callers_environment_folder_and_stdin(
    agent: Agent, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    before = _served(agent)
    done = agent.run(
        "run",
        "probe",
        cwd=project,
        env={**agent.env, "PROBE": "from-caller", "TZ": "HWT-5"},  # five hours east of UTC
        stdin="typed\n",
    )
    assert done.returncode == 0, done.stderr
    assert "→ from-caller|proj|typed|18000" in done.stderr
    assert _served(agent) == before + 1


@pytest.mark.parametrize(
    "args",
    [
        ("query", "SELECT 40 + 2 AS answer, 'é' AS accent", "--format", "json"),
        ("show", "raw.nothing"),
        ("run", "no_such_pipeline"),
        ("query", "SELECT * FROM nowhere"),
        ("tables",),
        ("--help",),
    ],
)
def test_output_and_exit_status_match_a_cold_command(
    agent: Agent, tmp_path: Path, args: tuple[str, ...]
) -> None:
    project = _project(tmp_path)
    before = _served(agent)
    warm = agent.run(*args, cwd=project)
    cold = agent.cold(*args, cwd=project)
    assert (warm.returncode, warm.stdout, warm.stderr) == (
        cold.returncode,
        cold.stdout,
        cold.stderr,
    )
    assert _served(agent) == before + 1  # the cold one did not go through it


@pytest.mark.parametrize(("pipeline", "status"), [("crashes", 7), ("killed_by_signal", -9)])
def test_a_child_that_dies_ends_the_command_the_same_way(
    agent: Agent, tmp_path: Path, pipeline: str, status: int
) -> None:
    project = _project(tmp_path)
    assert agent.cold("run", pipeline, cwd=project).returncode == status
    assert agent.run("run", pipeline, cwd=project).returncode == status


def _napping(agent: Agent, project: Path, pipeline: str) -> subprocess.Popen[str]:
    """``headwater run PIPELINE`` through the agent, once its task has started to sleep."""
    client = subprocess.Popen(
        [str(EXE), "run", pipeline],
        cwd=project,
        env=agent.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (project / "napping").exists():
        assert client.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    return client


def test_ctrl_c_reaches_the_command_in_the_agent(agent: Agent, tmp_path: Path) -> None:
    project = _project(tmp_path)
    client = _napping(agent, project, "sleeper")
    client.send_signal(signal.SIGINT)
    _, err = client.communicate(timeout=30)
    assert client.returncode == 130
    assert "interrupted" in err
    status = agent.status()
    assert status is not None and status["running"] == []


def test_a_caller_that_disappears_hangs_up_its_command(agent: Agent, tmp_path: Path) -> None:
    project = _project(tmp_path)
    client = _napping(agent, project, "long_sleeper")
    client.kill()
    client.communicate()
    deadline = time.monotonic() + 15  # long before the task's 300 s
    while True:
        status = agent.status()
        assert status is not None, "the agent stopped"
        if not status["running"]:
            break
        assert time.monotonic() < deadline, "the child outlived its caller"
        time.sleep(0.05)
    assert agent.run("query", "SELECT 3 AS n", "--format", "json", cwd=project).stdout.strip()


def test_without_a_listening_agent_commands_run_on_their_own(tmp_path: Path) -> None:
    project = _project(tmp_path)
    folder = Path(tempfile.mkdtemp(prefix="hwa-"))
    path = folder / "agent.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))  # a socket file left behind by an agent that was killed
    dead.close()
    env = {**os.environ, "HEADWATER_AGENT": "on", "HEADWATER_AGENT_SOCKET": str(path)}
    try:
        done = subprocess.run(
            [str(EXE), "query", "SELECT 7 AS n", "--format", "json"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == [{"n": 7}]
        status = subprocess.run(
            [str(EXE), "agent", "status"], env=env, capture_output=True, text=True
        )
        assert status.returncode == 1
        assert "no agent is running" in status.stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_an_agent_whose_code_changed_stops_and_the_command_runs_alone(tmp_path: Path) -> None:
    project = _project(tmp_path)
    extra = tmp_path / "site"  # a folder packages are installed in, as site-packages is
    (extra / "seed-1.0.dist-info").mkdir(parents=True)
    with _running_agent(PYTHONPATH=str(extra)) as agent:
        assert agent.run("tables", cwd=project).returncode == 0
        served = _served(agent)
        time.sleep(0.01)
        (extra / "newly_installed-1.0.dist-info").mkdir()  # a package installed meanwhile
        second = agent.run("query", "SELECT 1 AS one", "--format", "json", cwd=project)
        assert second.returncode == 0
        assert json.loads(second.stdout) == [{"one": 1}]
        assert f"{extra} changed since it started" in second.stderr
        deadline = time.monotonic() + 10
        while agent.socket.exists():
            assert time.monotonic() < deadline, "the agent did not stop"
            time.sleep(0.05)
        assert served == 1 and agent.status() is None


def test_files_appearing_in_a_project_on_the_path_leave_the_agent_running(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    source = tmp_path / "checkout"  # as an editable install puts its project folder on the path
    source.mkdir()
    with _running_agent(PYTHONPATH=str(source)) as agent:
        (source / "notes.txt").write_text("")
        done = agent.run("query", "SELECT 2 AS two", "--format", "json", cwd=project)
        assert done.returncode == 0 and done.stderr == ""
        assert _served(agent) == 1


def test_start_status_and_stop() -> None:
    with _running_agent() as agent:
        _start_status_and_stop(agent)


def _start_status_and_stop(agent: Agent) -> None:
    again = subprocess.run(
        [str(EXE), "agent", "start"], env=agent.env, capture_output=True, text=True
    )
    assert again.returncode == 0 and "already running" in again.stderr
    second = subprocess.run(
        [str(EXE), "agent", "start", "--foreground"],
        env=agent.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 1
    assert f"error: an agent already listens on {agent.socket}" in second.stderr
    shown = subprocess.run(
        [str(EXE), "agent", "status"], env=agent.env, capture_output=True, text=True
    )
    assert shown.returncode == 0
    fields = dict(line.split(None, 1) for line in shown.stdout.splitlines())
    assert fields["socket"] == str(agent.socket)
    assert fields["python"] == sys.executable
    stopped = subprocess.run(
        [str(EXE), "agent", "stop"], env=agent.env, capture_output=True, text=True
    )
    assert stopped.returncode == 0 and "agent stopped" in stopped.stderr
    assert not agent.socket.exists()
    assert agent.status() is None


def test_a_socket_folder_others_can_enter_is_refused(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    folder = runtime / f"headwater-{os.getuid()}"
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    env = {k: v for k, v in os.environ.items() if k != "HEADWATER_AGENT_SOCKET"}
    done = subprocess.run(
        [str(EXE), "agent", "start"],
        env={**env, "XDG_RUNTIME_DIR": str(runtime)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert f"error: {folder} must belong to you and be closed to others" in done.stderr
    assert f"chmod 700 {folder}" in done.stderr
    assert list(folder.iterdir()) == []


def test_messages_carry_descriptors_and_end_cleanly() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    read_end, write_end = os.pipe()
    with left, right:
        big = {"kind": "run", "env": {f"V{i}": "x" * 100 for i in range(2000)}}  # ~230 KB

        def send_both() -> None:  # more than a socket buffer: sent while the other side reads
            wire.send(left, big, [write_end])
            wire.send(left, {"kind": "signal", "signal": 2})

        sender = threading.Thread(target=send_both)
        sender.start()
        got, fds = wire.receive(right)
        assert got == big and len(fds) == 1
        os.write(fds[0], b"through the passed descriptor")
        os.close(fds[0])
        os.close(write_end)
        assert os.read(read_end, 100) == b"through the passed descriptor"
        assert wire.receive(right) == ({"kind": "signal", "signal": 2}, [])
        sender.join()
        left.close()
        with pytest.raises(wire.Closed):
            wire.receive(right)
    os.close(read_end)
