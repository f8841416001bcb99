"""Input a user gets wrong: one actionable error line with file and line, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from headwater import Workspace
from headwater.errors import ModelError, ProjectFileError, QueryError, RunFailed
from headwater.quality.compile import CheckError
from headwater.web import create_app
from tests.test_serve_support import TOKEN, serving

CLI = [sys.executable, "-c", "from headwater.cli.app import main; main()"]
DEEP = "SELECT " + "(" * 3000 + "1" + ")" * 3000


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"name: x\x00y\n", r"headwater.yaml:1: the character U\+0000 at column 8 is not allowed"),
        (
            b"name: ok\n# caf\xe9\n",
            r"headwater.yaml:2: the file is not UTF-8 text: byte 0xe9 at column 6",
        ),
    ],
)
def test_a_project_file_that_is_not_yaml_text_names_file_line_and_column(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    (tmp_path / "headwater.yaml").write_bytes(content)
    with pytest.raises(ProjectFileError, match=expected):
        Workspace.open(tmp_path)
    result = _cli("tables", "-p", str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert "headwater.yaml" in line


def test_a_check_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text("name: x\n")
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "s.yaml").write_bytes(b"# \xff\nraw.t:\n  - not_null: id\n")
    with (
        Workspace.open(tmp_path) as ws,
        pytest.raises(
            ProjectFileError, match=r"s.yaml:1: the file is not UTF-8 text: byte 0xff at column 3"
        ),
    ):
        ws.check("s")


def test_a_port_that_is_not_a_number_is_said_so_without_the_password(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text(
        """\
name: x
connections:
  src: {url: "mysql+pymysql://etl:hunter2@127.0.0.1:abc/shop"}
sources:
  src: {connection: src, namespace: raw, tables: [orders]}
pipelines:
  p: {tasks: [{ingest: src}]}
"""
    )
    expected = r"`mysql\+pymysql://etl:\*\*\*@127.0.0.1:abc/shop` is not a SQLAlchemy URL: its port"
    with Workspace.open(tmp_path) as ws, pytest.raises(RunFailed, match=expected) as failed:
        ws.run("p")
    assert "hunter2" not in failed.value.message
    assert "ValueError" not in failed.value.message


def test_a_query_nested_too_deeply_is_a_query_error(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text(
        "name: x\nvariables:\n  api_token: {sensitive: true}\nserve:\n  tokens: ['${var.api_token}']\n"
    )
    with Workspace.open(tmp_path, {"api_token": TOKEN}) as ws:
        with pytest.raises(QueryError, match="the query nests too deeply"):
            ws.query(DEEP)
        assert ws.query("SELECT 1 AS one").to_pylist() == [{"one": 1}]  # the session still works
        with serving(create_app(ws)) as url:
            answer = httpx.post(
                f"{url}/v1/query",
                json={"sql": DEEP},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=60,
            )
    assert answer.status_code == 400
    assert "nests too deeply" in answer.text
    (tmp_path / "deep.sql").write_text(DEEP)
    result = _cli(
        "query", "--file", str(tmp_path / "deep.sql"), "-p", str(tmp_path), "--var", "api_token=t"
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "nests too deeply" in result.stderr


def test_a_statement_only_duckdb_parses_gets_duckdbs_error_not_a_missing_table(
    tmp_path: Path,
) -> None:
    import pyarrow as pa

    from headwater.lake import replace_table

    (tmp_path / "headwater.yaml").write_text("name: x\n")
    with Workspace.open(tmp_path) as ws:
        table = pa.table({"id": pa.array([1, 2], pa.int64())})
        replace_table(
            ws.lake, "shop.t", pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
        )
        with pytest.raises(QueryError, match="Scalar Function with name ==== does not exist"):
            ws.query("SELECT count(*) FROM shop.t WHERE id ==== 1")
        with pytest.raises(
            QueryError, match=r"table `shop.tt` is not in the catalog \(did you mean `shop.t`"
        ):
            ws.query("SELECT count(*) FROM shop.tt WHERE id ==== 1")


def test_statements_sqlglot_reads_as_commands_have_their_tables_mapped(tmp_path: Path) -> None:
    import pyarrow as pa

    from headwater.lake import replace_table

    (tmp_path / "headwater.yaml").write_text("name: x\n")
    with Workspace.open(tmp_path) as ws:
        table = pa.table({"id": pa.array([1, 2], pa.int64()), "note": ["a", "b"]})
        replace_table(
            ws.lake, "shop.t", pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
        )
        shown = ws.query("SHOW shop.t").to_pylist()
        assert [(c["column_name"], c["column_type"]) for c in shown] == [
            ("id", "BIGINT"),
            ("note", "VARCHAR"),
        ]
        # DuckDB's own schemas are DuckDB's, not tables of the lake
        with pytest.raises(QueryError, match="Scalar Function with name ==== does not exist"):
            ws.query("SELECT * FROM information_schema.tables WHERE table_name ==== 't'")


def test_a_model_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text("name: x\n")
    (tmp_path / "models" / "gold").mkdir(parents=True)
    (tmp_path / "models" / "gold" / "m.sql").write_bytes(b"SELECT 1 AS a\n-- caf\xe9\n")
    with (
        Workspace.open(tmp_path) as ws,
        pytest.raises(
            ProjectFileError, match=r"m.sql:2: the file is not UTF-8 text: byte 0xe9 at column 7"
        ),
    ):
        ws.models()


@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_model_with_an_unclosed_quote_names_the_line_it_opens(tmp_path: Path, quote: str) -> None:
    (tmp_path / "headwater.yaml").write_text("name: x\n")
    (tmp_path / "models" / "gold").mkdir(parents=True)
    sql = f"SELECT 1 AS a,\n  {quote}b AS c\nFROM x\n"
    (tmp_path / "models" / "gold" / "m.sql").write_text(sql)
    with (
        Workspace.open(tmp_path) as ws,
        pytest.raises(
            ModelError, match=rf"m.sql:2: SQL syntax error: a {quote} is opened and never closed"
        ),
    ):
        ws.models()


def test_a_check_condition_with_an_unclosed_quote_is_a_check_error() -> None:
    from headwater.quality.evaluate import _condition

    with pytest.raises(CheckError, match=r"`where: a = 'x` is not a SQL condition"):
        _condition("a = 'x")
