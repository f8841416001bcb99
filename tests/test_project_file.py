"""headwater.yaml loading: variables, interpolation and errors that point at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.errors import ProjectFileError, ProjectNotFound, VariableError
from headwater.project import load_project, parse_assignments

VALID = """\
name: demo
variables:
  source_url:
    default: sqlite:///src.db
  batch: 500
connections:
  src:
    type: sql
    url: ${var.source_url}
sources:
  src:
    connection: src
    batch_rows: ${var.batch}
    tables: [customers, {name: big_orders, query: "select * from orders where amount > 10"}]
pipelines:
  main:
    tasks:
      - ingest: src
      - models: gold
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "headwater.yaml").write_text(text)
    return tmp_path


def test_defaults_and_shorthands(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, VALID), environ={})
    source = project.config.sources["src"]
    assert project.config.connections["src"].url == "sqlite:///src.db"
    assert [t.name for t in source.tables] == ["customers", "big_orders"]
    assert source.tables[1].query == "select * from orders where amount > 10"
    assert source.batch_rows == 500  # a whole-string reference keeps the int type
    assert project.config.pipelines["main"].tasks[1].models == ("gold",)


def test_var_beats_env_beats_default(tmp_path: Path) -> None:
    root = write(tmp_path, VALID)
    env = {"HEADWATER_VAR_SOURCE_URL": "sqlite:///env.db"}
    assert load_project(root, environ=env).config.connections["src"].url == "sqlite:///env.db"
    chosen = load_project(root, {"source_url": "sqlite:///cli.db"}, environ=env)
    assert chosen.config.connections["src"].url == "sqlite:///cli.db"


def test_unknown_override_is_an_error_with_suggestion(tmp_path: Path) -> None:
    with pytest.raises(
        VariableError, match="unknown variable `sorce_url`.*did you mean `source_url`"
    ):
        load_project(write(tmp_path, VALID), {"sorce_url": "x"}, environ={})


def test_parse_assignments() -> None:
    assert parse_assignments(["a=1", "url=x://h/?a=b"]) == {"a": "1", "url": "x://h/?a=b"}
    with pytest.raises(VariableError, match="NAME=VALUE"):
        parse_assignments(["novalue"])


def test_unknown_key_points_at_its_line_with_suggestion(tmp_path: Path) -> None:
    text = VALID.replace("    connection: src\n", "    conection: src\n")
    with pytest.raises(ProjectFileError) as info:
        load_project(write(tmp_path, text), environ={})
    err = info.value
    assert err.line == text.splitlines().index("    conection: src") + 1
    assert "sources.src.conection" in str(err)
    assert "did you mean `connection`" in str(err)
    assert str(tmp_path / "headwater.yaml") in str(err)


def test_wrong_type_says_what_was_found(tmp_path: Path) -> None:
    text = VALID.replace("      - models: gold\n", "      - models: gold\n    parallelism: lots\n")
    with pytest.raises(ProjectFileError) as info:
        load_project(write(tmp_path, text), environ={})
    assert info.value.line == text.splitlines().index("    parallelism: lots") + 1
    assert "pipelines.main.parallelism" in str(info.value)
    assert "'lots'" in str(info.value)


def test_unknown_variable_reference(tmp_path: Path) -> None:
    text = VALID.replace("${var.source_url}", "${var.source_ur}")
    with pytest.raises(ProjectFileError) as info:
        load_project(write(tmp_path, text), environ={})
    assert info.value.line == 9
    assert "did you mean `source_url`" in str(info.value)


def test_env_interpolation_and_escape(tmp_path: Path) -> None:
    text = VALID.replace("${var.source_url}", "sqlite:///${env:DATA_DIR}/x.db?note=$${literal}")
    project = load_project(write(tmp_path, text), environ={"DATA_DIR": "/data"})
    assert project.config.connections["src"].url == "sqlite:////data/x.db?note=${literal}"
    with pytest.raises(ProjectFileError, match="environment variable `DATA_DIR` is not set"):
        load_project(write(tmp_path, text), environ={})


def test_variable_without_value(tmp_path: Path) -> None:
    text = VALID.replace("    default: sqlite:///src.db\n", "    description: where\n")
    with pytest.raises(ProjectFileError, match="variable `source_url` has no value") as info:
        load_project(write(tmp_path, text), environ={})
    assert "--var source_url=VALUE" in str(info.value)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    text = VALID.replace("  src:\n    connection", "  src:\n   connection: [\n    connection", 1)
    with pytest.raises(ProjectFileError, match="invalid YAML") as info:
        load_project(write(tmp_path, text), environ={})
    assert info.value.line is not None and info.value.line > 10


def test_undefined_connection_and_missing_file(tmp_path: Path) -> None:
    text = VALID.replace("    connection: src\n", "    connection: scr\n")
    with pytest.raises(
        ProjectFileError, match="connection `scr` is not defined.*did you mean `src`"
    ) as info:
        load_project(write(tmp_path, text), environ={})
    assert info.value.line == text.splitlines().index("    connection: scr") + 1
    text = VALID.replace("      - ingest: src\n", "      - ingest: source\n")
    with pytest.raises(ProjectFileError, match="source `source` is not defined") as info:
        load_project(write(tmp_path, text), environ={})
    assert info.value.key == "pipelines.main.tasks.0.ingest"
    with pytest.raises(ProjectNotFound, match="headwater init"):
        load_project(tmp_path / "empty")


def test_step_needs_a_kind(tmp_path: Path) -> None:
    text = VALID.replace("      - models: gold\n", "      - model: gold\n")
    with pytest.raises(
        ProjectFileError, match="a task needs one of `ingest:`, `models:`, `check:`"
    ):
        load_project(write(tmp_path, text), environ={})


def test_unknown_connection_type_lists_the_known_ones(tmp_path: Path) -> None:
    text = VALID.replace("    type: sql\n", "    type: sqll\n")
    with pytest.raises(ProjectFileError, match="unknown type `sqll`; expected one of: 'sql'"):
        load_project(write(tmp_path, text), environ={})


def test_number_given_where_text_is_expected(tmp_path: Path) -> None:
    text = VALID.replace("name: demo\n", "name: demo\ndescription: ${var.batch}\n")
    assert load_project(write(tmp_path, text), environ={}).config.description == "500"


def test_unknown_keys_list_the_keys_of_their_own_mapping(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text(
        "name: t\n"
        "connections:\n"
        "  src: {url: 'sqlite:///x.db'}\n"
        "  api: {type: http, base_url: 'http://x', timout: 3}\n"
        "sources:\n"
        "  s: {connection: src, tables: [a], readr: auto}\n"
    )
    with pytest.raises(ProjectFileError) as error:
        load_project(tmp_path, environ={})
    text = str(error.value)
    assert "connections.api.timout: unknown key `timout` (did you mean `timeout`?)" in text
    assert "expected one of: type, base_url, headers, auth, timeout" in text
    assert "sources.s.readr: unknown key `readr` (did you mean `reader`?)" in text
    assert "tables, reader, batch_rows" in text
