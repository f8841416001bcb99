"""Benchmark: per-task overhead of Headwater's orchestrator against Prefect, Dagster, Airflow.

Every contender runs the same DAG of N no-op tasks (``--tasks``), in one of two shapes:

    chain   t0 -> t1 -> ... -> tN-1                       (each task waits for the previous)
    fanout  t0 -> (t1 .. tN-2, independent) -> tN-1      (one root, N-2 parallel tasks, a join)

The fan-out keeps a root and a join (rather than N unconnected tasks) because every tool
expresses that graph directly and it has the same N tasks as the chain. A task is a Python
function that does nothing; an edge is an ordering dependency with no data passed. How each
tool writes and runs it is in the docstring of its script, ``bench/orchestration_<name>.py``:

    threads    a plain concurrent.futures.ThreadPoolExecutor: no orchestrator, the baseline
    prefect    Prefect 3, a flow of @task calls; every task run recorded by Prefect's
               temporary local server (SQLite), as with no server configured, and the
               script waits until the server has written them all
    dagster    Dagster 1.x, a @job of aliased ops, ``execute_in_process()`` (ephemeral instance)
    airflow    Airflow 3, a DAG of TaskFlow tasks, ``dag.test()`` (SQLite metadata database)
    headwater  ``bench/orchestration_headwater.py``, run by the project's interpreter
               (``.venv/bin/python``); skipped, with a message, while that file is missing

Each script takes ``--tasks N --shape chain|fanout`` and prints one JSON line
``{"tool", "shape", "tasks", "run_seconds"}``, optionally with ``setup_seconds``,
``build_seconds`` (or ``plan_seconds``) and ``version``. ``run_seconds`` is the run itself,
timed inside the process, excluding interpreter start and imports; ``setup_seconds`` is a
once-per-process service started before the run (Prefect's temporary API server);
``build_seconds`` is building the DAG object before it runs (Dagster's ``@job``, Airflow's
``DAG``; Headwater's planning). The harness times each run as a whole process too, from
spawn to exit, which includes all of these.

Each contender except Headwater runs in its own virtualenv, ``bench/.work/<name>-env``, made
with uv from the project interpreter's Python and installed with bytecode compiled (as pip
does), so the project's lock file is never touched. The environments are reused while their
package list is unchanged (``--rebuild`` makes them again). Before timing, each contender is
prepared once, untimed: Prefect's database is migrated, Airflow's metadata database is
migrated (``airflow db migrate``) and this DAG file is linked into its DAGs folder, Headwater's
package is compiled to bytecode; then one warm-up run per shape with 10 tasks creates what a
first run creates. Telemetry is off everywhere (``DO_NOT_TRACK``, Prefect's
``PREFECT_SERVER_ANALYTICS_ENABLED``, ``DAGSTER_DISABLE_TELEMETRY``, ``SCARF_ANALYTICS``);
inherited ``PREFECT_*``, ``DAGSTER_*`` and ``AIRFLOW*`` variables are dropped. The one
setting changed from a default is Prefect's wait for its temporary server (20 s, raised to
180 s), which a loaded 2-core machine can exceed; that wait is timed all the same.

Runs go in rounds (every contender, shape and size once per round, ``--repeat`` rounds), one
process at a time, so a load spike hits all alike; the medians are reported. A script may
also report ``recorded_seconds``: from the start of the run until every task run is in its
database, for a tool that records after the run returns (Prefect: see its script). The *done*
time is the later of ``run_seconds`` and ``recorded_seconds``; per-task overhead is (median
done seconds - the thread pool's median run seconds for the same shape and size) / N, and the
run ratio is the done time over Headwater's (the process ratio: whole-process medians). With
several sizes, the marginal cost per task (done time's slope between the smallest and the
largest N) is printed too: fixed costs of a run cancel out of it. A contender that fails or
passes ``--timeout`` has the tail of its stderr printed, and the others go on.

    .venv/bin/python bench/orchestration.py --tasks 200 --shapes chain,fanout --repeat 3 \\
        --contenders threads,prefect,dagster,airflow,headwater
    .venv/bin/python bench/orchestration.py --tasks 200,1000 \
        --contenders threads,prefect,dagster,headwater

Results: a table on stdout, the same as Markdown, and a JSON file under
``bench/.work/orchestration/``. Not a test: nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from extract_report import headwater_commit, machine
from rich.console import Console
from rich.markup import escape
from rich.table import Table

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORK = BENCH_DIR / ".work"
PROJECT_PYTHON = REPO / ".venv" / "bin" / "python"
UV = REPO / ".venv" / "bin" / "uv"
SHAPES = ("chain", "fanout")
BASELINE = "threads"
REFERENCE = "headwater"
WARMUP_TASKS = 10
MARKER = ".bench-packages"  # in an environment: the package list it was built with
STDERR_TAIL = 25

# Prefect 3.8.8 is the newest Prefect 3 installable here (3.9 needs a certifi release the
# index does not have); it passes ``min_items=`` to fastapi.Body, which FastAPI 0.155 dropped
# (its server fails to start: "Body() got an unexpected keyword argument 'min_items'").
PREFECT_PACKAGES = ("prefect>=3,<4", "fastapi<0.155")
PACKAGES: dict[str, tuple[str, ...]] = {
    "threads": (),
    "prefect": PREFECT_PACKAGES,
    "dagster": ("dagster>=1,<2",),
    "airflow": ("apache-airflow>=3,<4",),
}
CONTENDERS = (*PACKAGES, REFERENCE)
DROPPED_ENV_PREFIXES = ("PREFECT_", "DAGSTER_", "AIRFLOW", "VIRTUAL_ENV")


# ---------------------------------------------------------------- contenders


@dataclass
class Contender:
    """One tool: its script, interpreter and environment variables."""

    name: str
    work: Path
    headwater_script: Path
    problem: str = ""  # why it cannot run, when it cannot
    version: str = ""

    @property
    def script(self) -> Path:
        if self.name == REFERENCE:
            return self.headwater_script
        return BENCH_DIR / f"orchestration_{self.name}.py"

    @property
    def env_dir(self) -> Path:
        return WORK / f"{self.name}-env"

    @property
    def python(self) -> Path:
        return PROJECT_PYTHON if self.name == REFERENCE else self.env_dir / "bin" / "python"

    @property
    def home(self) -> Path:
        """The tool's own state folder (Prefect's and Airflow's databases)."""
        return self.work / f"{self.name}-home"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_ENV_PREFIXES)}
        env["DO_NOT_TRACK"] = "1"
        if self.name == "prefect":
            env["PREFECT_HOME"] = str(self.home)
            env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
            # Prefect gives its temporary server 20 s to answer, which a loaded 2-core
            # machine can exceed ("Timed out while attempting to connect to ephemeral
            # Prefect API server"); the wait is still timed, as setup_seconds
            env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
        elif self.name == "dagster":
            env["DAGSTER_DISABLE_TELEMETRY"] = "1"
        elif self.name == "airflow":
            env["AIRFLOW_HOME"] = str(self.home)
            env["AIRFLOW__CORE__DAGS_FOLDER"] = str(self.home / "dags")
            env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
            env["SCARF_ANALYTICS"] = "false"
        return env

    def command(self, tasks: int, shape: str) -> list[str]:
        return [str(self.python), str(self.script), "--tasks", str(tasks), "--shape", shape]


def _run_quiet(cmd: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
    """An untimed setup command; raises with the tail of its output when it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        done = subprocess.run(
            list(cmd), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO, check=False
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-STDERR_TAIL:])
        raise RuntimeError(f"{' '.join(map(str, cmd[:4]))}… exited {done.returncode}:\n{tail}")


def base_python() -> str:
    """The interpreter the project's virtualenv was made from (the same Python for all)."""
    code = "import sys; print(sys._base_executable)"
    done = subprocess.run([str(PROJECT_PYTHON), "-c", code], capture_output=True, text=True)
    return done.stdout.strip() or "python3"


def ensure_env(contender: Contender, rebuild: bool, logs: Path, console: Console) -> None:
    """``bench/.work/<name>-env``: made with uv and the contender's packages, bytecode compiled."""
    packages = PACKAGES[contender.name]
    marker = contender.env_dir / MARKER
    wanted = json.dumps(list(packages))
    fresh = contender.python.exists() and marker.exists() and marker.read_text() == wanted
    if fresh and not rebuild:
        return
    console.print(f"building {contender.env_dir.relative_to(REPO)} ({' '.join(packages) or '-'})")
    shutil.rmtree(contender.env_dir, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    log = logs / f"install-{contender.name}.log"
    _run_quiet([str(UV), "venv", "--python", base_python(), str(contender.env_dir)], log, env)
    if packages:
        install = [str(UV), "pip", "install", "--compile-bytecode"]
        _run_quiet([*install, "--python", str(contender.python), *packages], log, env)
    marker.write_text(wanted)


def prepare(contender: Contender, logs: Path) -> None:
    """Untimed, once per invocation: what a user has done before running a DAG."""
    env = contender.env()
    log = logs / f"prepare-{contender.name}.log"
    bin_dir = contender.python.parent
    if contender.name == "prefect":
        contender.home.mkdir(parents=True, exist_ok=True)
        _run_quiet([str(bin_dir / "prefect"), "server", "database", "upgrade", "-y"], log, env)
    elif contender.name == "airflow":
        dags = contender.home / "dags"
        dags.mkdir(parents=True, exist_ok=True)
        link = dags / contender.script.name
        if not link.is_symlink() or link.resolve() != contender.script:
            link.unlink(missing_ok=True)
            link.symlink_to(contender.script)
        _run_quiet([str(bin_dir / "airflow"), "db", "migrate"], log, env)
    elif contender.name == REFERENCE:
        # the package is installed editable and PYTHONDONTWRITEBYTECODE may be set: compile
        # it as a first import would, so no run pays for it
        _run_quiet([str(contender.python), "-m", "compileall", "-q", "headwater"], log, env)


def package_version(contender: Contender) -> str:
    if contender.name == REFERENCE:
        return f"commit {headwater_commit()}"
    if contender.name == BASELINE:
        return ""
    dist = PACKAGES[contender.name][0].split(">")[0].split("=")[0].split("<")[0]
    code = f"from importlib.metadata import version; print(version({dist!r}))"
    done = subprocess.run([str(contender.python), "-c", code], capture_output=True, text=True)
    return f"{dist} {done.stdout.strip()}" if done.returncode == 0 else ""


# ---------------------------------------------------------------- one run


@dataclass
class Run:
    """One process: whole-process wall time and what the script said about itself."""

    seconds: float
    returncode: int
    load_1min: float  # the machine's 1-minute load average when the process was spawned
    run_seconds: float | None = None
    setup_seconds: float | None = None
    build_seconds: float | None = None
    recorded_seconds: float | None = None
    version: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.run_seconds is not None


def _reported(stdout: str) -> dict | None:
    """The last JSON object on stdout that has ``run_seconds`` (logs may come before it)."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and "run_seconds" in data:
                return data
    return None


def _tail(path: Path, lines: int = STDERR_TAIL) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run_once(contender: Contender, tasks: int, shape: str, log_stem: Path, timeout: float) -> Run:
    """Spawn the contender's script; wall time from spawn to exit."""
    out_path = log_stem.with_suffix(".out")
    err_path = log_stem.with_suffix(".err")
    log_stem.parent.mkdir(parents=True, exist_ok=True)
    timed_out = False
    load = os.getloadavg()[0]
    with out_path.open("w") as out, err_path.open("w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            contender.command(tasks, shape),
            stdout=out,
            stderr=err,
            env=contender.env(),
            cwd=REPO,
            start_new_session=True,  # its own process group: a timeout ends its children too
        )
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            returncode = proc.wait()
        finally:  # also when the harness itself is interrupted
            seconds = time.perf_counter() - started
            _kill_group(proc.pid)  # a child left behind (a server) must not load the next run
    run = Run(seconds, returncode, load)
    if timed_out:
        run.error = f"timed out after {timeout:.0f} s"
    elif returncode != 0:
        run.error = f"exit {returncode}"
    data = _reported(out_path.read_text(errors="replace"))
    if data is None:
        run.error = run.error or "no JSON line with run_seconds on stdout"
    elif not run.error:
        expected = {"shape": shape, "tasks": tasks}
        wrong = {k: data.get(k) for k, v in expected.items() if data.get(k) != v}
        if wrong:
            run.error = f"reported {wrong}, expected {expected}"
        run.run_seconds = float(data["run_seconds"])
        if data.get("setup_seconds") is not None:
            run.setup_seconds = float(data["setup_seconds"])
        if data.get("recorded_seconds") is not None:
            run.recorded_seconds = float(data["recorded_seconds"])
        build = data.get("build_seconds", data.get("plan_seconds"))
        if build is not None:
            run.build_seconds = float(build)
        run.version = str(data.get("version", ""))
    if run.error:
        run.error += f"; see {out_path.relative_to(REPO)}, {err_path.name}"
    return run


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


# ---------------------------------------------------------------- the series


@dataclass
class Series:
    """Every timed run of one contender on one shape and size."""

    tool: str
    shape: str
    tasks: int
    runs: list[Run] = field(default_factory=list)
    skipped: str = ""

    @property
    def good(self) -> list[Run]:
        return [r for r in self.runs if r.ok]

    def _median(self, values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    @property
    def process_s(self) -> float | None:
        return self._median([r.seconds for r in self.good])

    @property
    def run_s(self) -> float | None:
        return self._median([r.run_seconds for r in self.good if r.run_seconds is not None])

    @property
    def setup_s(self) -> float | None:
        return self._median([r.setup_seconds for r in self.good if r.setup_seconds is not None])

    @property
    def build_s(self) -> float | None:
        return self._median([r.build_seconds for r in self.good if r.build_seconds is not None])

    @property
    def recorded_s(self) -> float | None:
        values = [r.recorded_seconds for r in self.good if r.recorded_seconds is not None]
        return self._median(values)

    @property
    def done_s(self) -> float | None:
        """Until the run has returned and every task run is recorded (the later of the two)."""
        values = [
            max(r.run_seconds, r.recorded_seconds or 0.0)
            for r in self.good
            if r.run_seconds is not None
        ]
        return self._median(values)

    @property
    def spread(self) -> str:
        good = self.good
        if len(good) < 2:
            return ""
        return f"{min(r.seconds for r in good):.2f}–{max(r.seconds for r in good):.2f}"


def overhead_ms(series: Series, baseline: Series | None) -> float | None:
    """(done seconds - the thread pool's run seconds) / tasks, in milliseconds."""
    if series.done_s is None:
        return None
    base = baseline.run_s if baseline is not None and baseline.run_s is not None else 0.0
    return (series.done_s - base) / series.tasks * 1000


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "—"
    return f"{value / reference:.1f}x" if value / reference >= 10 else f"{value / reference:.2f}x"


def _s(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


HEADERS = (
    "tool",
    "shape",
    "tasks",
    "ok runs",
    "process s (median)",
    "min–max",
    "setup s",
    "build s",
    "run s",
    "recorded s",
    "overhead ms/task",
    "run vs Headwater",
    "process vs Headwater",
    "load",
)


def rows(series: list[Series]) -> list[list[str]]:
    index = {(s.tool, s.shape, s.tasks): s for s in series}
    out = []
    for s in series:
        base = index.get((BASELINE, s.shape, s.tasks))
        ref = index.get((REFERENCE, s.shape, s.tasks))
        if s.skipped or not s.good:
            status = "skipped" if s.skipped else "failed"
            ok = f"0/{len(s.runs)}" if s.runs else "—"
            cells = [s.tool, s.shape, str(s.tasks), ok, status]
            out.append([*cells, *["—"] * (len(HEADERS) - len(cells))])
            continue
        over = overhead_ms(s, base)
        if s.tool == BASELINE:
            over_cell = f"baseline ({s.run_s / s.tasks * 1000:.3f})"  # type: ignore[operator]
        elif base is None or base.run_s is None:
            over_cell = f"{_s(over, 2)} (no baseline)"
        else:
            over_cell = _s(over, 2)
        out.append(
            [
                s.tool,
                s.shape,
                str(s.tasks),
                f"{len(s.good)}/{len(s.runs)}",
                _s(s.process_s),
                s.spread,
                _s(s.setup_s),
                _s(s.build_s),
                _s(s.run_s, 3),
                _s(s.recorded_s, 3),
                over_cell,
                _ratio(s.done_s, ref.done_s if ref else None),
                _ratio(s.process_s, ref.process_s if ref else None),
                f"{statistics.median(r.load_1min for r in s.good):.1f}",
            ]
        )
    return out


def print_report(series: list[Series], repeat: int, console: Console) -> None:
    table = Table(title=f"DAGs of no-op tasks: median of {repeat} processes per row")
    for h in HEADERS:
        table.add_column(h, justify="left" if h in ("tool", "shape") else "right")
    for row in rows(series):
        table.add_row(*row)
    console.print(table)
    console.print(
        "process s: spawn to exit (interpreter start and imports included); run s: the DAG "
        "run timed inside the process; setup s: Prefect's temporary server start, and "
        "build s: building the DAG object (Headwater: planning), both outside run s; "
        "recorded s: from the start of the run until every task run is in the tool's "
        "database, where that happens after the run returns (Prefect); overhead and run vs "
        "Headwater: on run s, or recorded s where that is later; overhead: (that - thread "
        "pool's run s) / tasks; load: the 1-minute load average when the processes were "
        "spawned (median)"
    )
    console.print("\nMarkdown:\n")
    md = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join("---" for _ in HEADERS) + "|"]
    md += ["| " + " | ".join(row) + " |" for row in rows(series)]
    console.print(escape("\n".join(md)), soft_wrap=True)
    slopes = marginal(series)
    if slopes:
        console.print(
            "\nMarginal cost per task, from the smallest to the largest size (fixed costs of "
            "the run, such as Airflow's in-process API start, cancel out):"
        )
        for (tool, shape), (low, high, ms) in slopes.items():
            console.print(f"  {tool} {shape} {low}→{high}: {ms:.2f} ms/task")


def marginal(series: list[Series]) -> dict[tuple[str, str], tuple[int, int, float]]:
    """(done s at the largest N - done s at the smallest N) / (difference in N), in ms."""
    runs: dict[tuple[str, str], dict[int, float]] = {}
    for s in series:
        if s.done_s is not None:
            runs.setdefault((s.tool, s.shape), {})[s.tasks] = s.done_s
    out = {}
    for key, by_size in runs.items():
        if len(by_size) >= 2:
            low, high = min(by_size), max(by_size)
            out[key] = (low, high, (by_size[high] - by_size[low]) / (high - low) * 1000)
    return out


# ---------------------------------------------------------------- main


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", default="200", help="tasks per DAG; a comma list for several")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma list of chain,fanout")
    parser.add_argument("--repeat", type=int, default=3, help="processes per row; median kept")
    parser.add_argument(
        "--contenders", default=",".join(CONTENDERS), help=f"comma list of {','.join(CONTENDERS)}"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per process")
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up runs")
    parser.add_argument("--rebuild", action="store_true", help="remake the virtualenvs")
    parser.add_argument(
        "--headwater-script",
        type=Path,
        default=BENCH_DIR / "orchestration_headwater.py",
        help="Headwater's runner script (same CLI contract as the others)",
    )
    parser.add_argument("--work-dir", type=Path, default=WORK / "orchestration")
    args = parser.parse_args(argv)

    sizes = [int(x.replace("_", "")) for x in _csv(args.tasks)]
    shapes = _csv(args.shapes)
    names = _csv(args.contenders)
    if bad := set(shapes) - set(SHAPES):
        parser.error(f"unknown shape(s) {sorted(bad)}; choose from {SHAPES}")
    if bad := set(names) - set(CONTENDERS):
        parser.error(f"unknown contender(s) {sorted(bad)}; choose from {CONTENDERS}")
    if any(n < 3 for n in sizes):
        parser.error("--tasks must be at least 3 (a root, a join and one task between)")

    # a harness stopped by SIGTERM still ends the contender it is running (its own group)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    console = Console(width=220)
    work = args.work_dir.resolve()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = work / "logs" / stamp
    commit_at_start = headwater_commit()
    contenders = [Contender(n, work, args.headwater_script.resolve()) for n in names]

    for c in contenders:
        if c.name == REFERENCE:
            if not c.script.exists():
                c.problem = f"skipped: {c.script.relative_to(REPO)} does not exist yet"
                console.print(f"[yellow]headwater[/yellow]: {c.problem}")
                continue
        else:
            try:
                ensure_env(c, args.rebuild, logs, console)
            except RuntimeError as exc:
                c.problem = "environment failed"
                console.print(f"[red]{c.name}[/red]: environment failed: {escape(str(exc))}")
                continue
        try:
            prepare(c, logs)
        except RuntimeError as exc:
            c.problem = "setup failed"
            console.print(f"[red]{c.name}[/red]: setup failed: {escape(str(exc))}")
            continue
        c.version = package_version(c)
        if args.no_warmup:
            continue
        for shape in shapes:
            run = run_once(c, WARMUP_TASKS, shape, logs / f"warmup-{c.name}-{shape}", args.timeout)
            state = f"{run.seconds:.2f} s" if run.ok else f"[red]{escape(run.error)}[/red]"
            console.print(f"warm-up {c.name} {shape} {WARMUP_TASKS}: {state}")

    series = [
        Series(c.name, shape, n, skipped=c.problem)
        for n in sizes
        for shape in shapes
        for c in contenders
    ]
    by_key = {(s.tool, s.shape, s.tasks): s for s in series}
    ready = [c for c in contenders if not c.problem]
    repeat = max(1, args.repeat)
    for attempt in range(repeat):
        for n in sizes:
            for shape in shapes:
                for c in ready:
                    s = by_key[(c.name, shape, n)]
                    stem = logs / f"{c.name}-{shape}-{n}-{attempt}"
                    run = run_once(c, n, shape, stem, args.timeout)
                    s.runs.append(run)
                    head = f"[{attempt + 1}/{repeat}] {c.name} {shape} {n}"
                    if run.ok:
                        extra = ""
                        if run.recorded_seconds is not None:
                            extra += f", recorded {run.recorded_seconds:.2f} s"
                        if run.setup_seconds is not None:
                            extra += f", setup {run.setup_seconds:.2f} s"
                        console.print(
                            f"  {head}: process {run.seconds:.2f} s, "
                            f"run {run.run_seconds:.3f} s{extra} (load {run.load_1min:.1f})"
                        )
                        if not c.version and run.version:
                            c.version = run.version
                    else:
                        console.print(f"  {head}: [red]{escape(run.error)}[/red]")
                        err = stem.with_suffix(".err")
                        if err.exists():
                            console.print(escape(_tail(err)), soft_wrap=True)

    print_report(series, repeat, console)
    info = machine()
    console.print("Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()))
    versions = [f"{c.name}: {c.version or '?'}" for c in contenders if not c.problem]
    commit = headwater_commit()
    head = commit if commit == commit_at_start else f"{commit_at_start} → {commit}"
    console.print("Versions: " + "; ".join(versions) + f"; headwater commit {head}")
    for c in contenders:
        if c.problem:
            console.print(f"[yellow]{c.name}[/yellow]: {c.problem}")

    results = {
        "started": stamp,
        "command": " ".join(["python", "bench/orchestration.py", *argv]),
        "machine": info,
        "headwater_commit": head,
        "versions": {c.name: c.version for c in contenders},
        "problems": {c.name: c.problem for c in contenders if c.problem},
        "marginal_ms_per_task": [
            {"tool": t, "shape": sh, "from": lo, "to": hi, "ms": ms}
            for (t, sh), (lo, hi, ms) in marginal(series).items()
        ],
        "series": [
            {
                "tool": s.tool,
                "shape": s.shape,
                "tasks": s.tasks,
                "skipped": s.skipped,
                "process_seconds_median": s.process_s,
                "run_seconds_median": s.run_s,
                "setup_seconds_median": s.setup_s,
                "build_seconds_median": s.build_s,
                "recorded_seconds_median": s.recorded_s,
                "overhead_ms_per_task": overhead_ms(s, by_key.get((BASELINE, s.shape, s.tasks))),
                "runs": [asdict(r) for r in s.runs],
            }
            for s in series
        ],
    }
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"results-{stamp}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"results: {out.relative_to(REPO)}; logs: {logs.relative_to(REPO)}")
    failed = [s for s in series if not s.skipped and not s.good]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
