"""Mutated project files (lines deleted, duplicated or swapped, scalars of another type, control
characters, bytes that are not UTF-8, truncation, deep nesting, unknown keys, wrong
indentation): loading, planning and listing the project ends in one error that names the file,
never a traceback."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from headwater import Workspace
from headwater.cli.app import app
from headwater.errors import DagError, HeadwaterError, ModelError, ProjectFileError
from tests.classicmodels_support import EXAMPLE, MODELS

pytestmark = pytest.mark.faults

# the project's files a user edits by hand, relative to the project folder
FILES = ("headwater.yaml", "checks/gold.yaml", "models/gold/fact_orders.sql")
# what an error may name: any file of the project (a change to one can break another)
NAMES = ("headwater.yaml", "checks/gold.yaml", *(f"models/gold/{m}.sql" for m in MODELS))
SCALARS = ("", "~", "0", "-1", "1e309", "yes", "[]", "{}", "[1, [2]]", "'x'", '"\\x00"', "&a", "*a")
JUNK = ("\x00", "\x07", "\x1b[31m", "\ufeff", "\u2028", "\t", "\r", "\\", "'", '"', "{{", "${")
BAD_BYTES = (b"\xff", b"\xc3", b"\xe9t\xe9", b"\xed\xa0\x80", b"\x80\x80")

KINDS = (
    "delete",
    "duplicate",
    "swap",
    "scalar",
    "junk",
    "bytes",
    "truncate",
    "nest",
    "unknown_key",
    "indent",
)


@dataclass(frozen=True)
class Mutation:
    """One edit of a file's bytes; its repr is what a failing example prints."""

    kind: str
    where: int
    other: int
    text: bytes  # the scalar, control character or bytes put in
    depth: int
    shift: int

    def __call__(self, data: bytes) -> bytes:
        lines = data.splitlines(keepends=True) or [b""]
        i, j = self.where % len(lines), self.other % len(lines)
        at = self.where % (len(data) + 1)
        if self.kind == "delete":
            del lines[i]
        elif self.kind == "duplicate":
            lines.insert(i, lines[j])
        elif self.kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif self.kind == "scalar":  # the value after the line's first `:` (or the whole line)
            head, colon, _ = lines[i].partition(b":")
            lines[i] = head + colon + b" " + self.text + b"\n"
        elif self.kind in ("junk", "bytes"):
            return data[:at] + self.text + data[at:]
        elif self.kind == "truncate":
            return data[:at]
        elif self.kind == "nest":
            lines.insert(i, b"deep: " + b"[" * self.depth + b"1" + b"]" * self.depth + b"\n")
        elif self.kind == "unknown_key":
            indent = len(lines[i]) - len(lines[i].lstrip(b" "))
            lines.insert(i, b" " * indent + b"surprise_key: 1\n")
        else:  # indentation moved by `shift` spaces
            line = lines[i]
            lines[i] = (
                b" " * self.shift + line
                if self.shift > 0
                else line[min(-self.shift, len(line) - len(line.lstrip(b" "))) :]
            )
        return b"".join(lines)


@st.composite
def mutations(draw: st.DrawFn) -> Mutation:
    kind = draw(st.sampled_from(KINDS))
    if kind == "scalar":
        text = draw(st.sampled_from(SCALARS)).encode()
    elif kind == "junk":
        text = draw(st.sampled_from(JUNK)).encode()
    else:
        text = draw(st.sampled_from(BAD_BYTES)) if kind == "bytes" else b""
    return Mutation(
        kind=kind,
        where=draw(st.integers(min_value=0, max_value=10_000)),
        other=draw(st.integers(min_value=0, max_value=10_000)),
        text=text,
        depth=draw(st.integers(min_value=1, max_value=400)) if kind == "nest" else 0,
        shift=draw(st.sampled_from([-4, -2, -1, 1, 3])) if kind == "indent" else 0,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the classicmodels example (its files only: no lake, no source)."""
    root = tmp_path_factory.mktemp("mutated") / "p"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".headwater", "reports"))
    yield root


def _load(root: Path) -> None:
    """What reads the project's files without a server: the project, its pipelines planned
    (which reads the models), and its check suites."""
    with Workspace.open(root) as ws:
        for name in ws.pipelines():
            ws.plan(name)
        ws.models()
        ws.suites()


def _cli(root: Path) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, ["pipelines", "-p", str(root)])
    return result.exit_code, result.output, result.exception


def test_the_unchanged_example_loads(project: Path) -> None:
    _load(project)
    code, output, _ = _cli(project)
    assert code == 0, output
    assert "classicmodels" in output


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(file=st.sampled_from(FILES), mutate=mutations())
def test_a_mutated_project_file_gives_an_error_naming_it_never_a_traceback(
    project: Path, file: str, mutate: Mutation
) -> None:
    path = project / file
    original = path.read_bytes()
    path.write_bytes(mutate(original))
    try:
        try:
            _load(project)
        except ProjectFileError as exc:
            assert Path(file).name in str(exc), str(exc)
        except HeadwaterError as exc:  # a valid file that breaks another: that one is named
            assert any(name in str(exc) for name in NAMES), str(exc)
        code, output, exception = _cli(project)
        assert "Traceback" not in output
        assert exception is None or isinstance(exception, SystemExit), repr(exception)
        assert code in (0, 1), output
        if code == 1:
            assert "error:" in output
    finally:
        path.write_bytes(original)


# What the mutations above found, kept as plain examples.


def test_a_model_nested_too_deeply_is_an_error_naming_its_file(project: Path) -> None:
    path = project / "models" / "gold" / "fact_orders.sql"
    original = path.read_bytes()
    path.write_text("SELECT " + "(" * 3000 + "1" + ")" * 3000 + " AS one\n")
    try:
        with (
            Workspace.open(project) as ws,
            pytest.raises(
                ModelError,
                match=r"models/gold/fact_orders.sql: the SQL nests too deeply to be read",
            ),
        ):
            ws.models()
    finally:
        path.write_bytes(original)


def test_a_task_written_as_a_bare_value_is_an_error_of_the_project_file(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text(
        "name: x\npipelines:\n  p:\n    tasks:\n      - oops\n"
    )
    with pytest.raises(
        ProjectFileError, match=r"headwater.yaml:5: .*a task needs one of `ingest:`"
    ):
        Workspace.open(tmp_path)
    code, output, exception = _cli(tmp_path)
    assert (code, exception is None or isinstance(exception, SystemExit)) == (1, True)
    assert "Traceback" not in output and "headwater.yaml:5:" in output


def test_a_models_step_matching_no_model_names_the_project_file(project: Path) -> None:
    path = project / "headwater.yaml"
    original = path.read_bytes()
    path.write_bytes(original.replace(b"- models: gold", b"- models: gld"))
    try:
        with (
            Workspace.open(project) as ws,
            pytest.raises(
                DagError,
                match=r"^pipeline `classicmodels`: no model matches `gld` \(did you mean `gold`\?\) "
                rf"\(in {re.escape(str(path))}\)",
            ),
        ):
            ws.plan("classicmodels")
        code, output, _ = _cli(project)
        assert code == 1 and "Traceback" not in output
        assert "no model matches `gld`" in output
    finally:
        path.write_bytes(original)
