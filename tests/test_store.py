"""The metadata store: SQLite by default, PostgreSQL by URL, schema version checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from headwater import Workspace
from headwater.errors import MigrationRequired
from headwater.samples import build_classicmodels
from headwater.state import RunStatus, Store, head_revision
from tests import services
from tests.classicmodels_support import copy_example


def test_new_store_is_created_at_head(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    assert store.revision() == head_revision()
    run_id = store.start_run("p", {"x": 1})
    store.finish_run(run_id, RunStatus.FAILED, "it broke")
    record = store.runs()[0]
    assert (record.pipeline, record.status, record.error, record.variables) == (
        "p",
        "failed",
        "it broke",
        {"x": 1},
    )


def test_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store.open(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(MigrationRequired, match="newer Headwater"):
        Store.open(url)


def test_older_store_asks_for_migrate_and_keeps_its_runs(tmp_path: Path) -> None:
    from alembic import command

    from headwater.state.store import _alembic_config, create_engine

    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = create_engine(url)
    config = _alembic_config()
    with engine.begin() as conn:  # a store written by the first release
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.exec_driver_sql(
            "INSERT INTO runs (run_id, pipeline, status, started_at) "
            "VALUES ('r1', 'p', 'success', '2026-01-01 00:00:00')"
        )
    engine.dispose()
    with pytest.raises(MigrationRequired) as info:
        Store.open(url)
    assert f"at revision 0001, this Headwater needs {head_revision()}" in str(info.value)
    assert "run `headwater migrate`" in str(info.value)
    store = Store.open(url, check=False)
    assert store.migrate() == ("0001", head_revision())
    store.close()
    store = Store.open(url)
    assert [r.run_id for r in store.runs()] == ["r1"]
    store.add_schema_changes("r1", "t", "raw.t", [("added", "c", None, "int64")])
    assert [c.column for c in store.schema_changes("raw.t")] == ["c"]
    store.close()


def test_tables_of_others_in_the_same_database_do_not_block(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE something_else (x int)")
    engine.dispose()
    assert Store.open(url).revision() == head_revision()


@pytest.mark.postgres
@pytest.mark.slow
def test_runs_recorded_in_postgres(tmp_path: Path, postgres_url: str) -> None:
    project = copy_example(tmp_path / "classicmodels")
    text = (project / "headwater.yaml").read_text()
    text += "state:\n  url: ${var.state_url}\n"
    text = text.replace("variables:\n", f"variables:\n  state_url: {postgres_url}\n", 1)
    (project / "headwater.yaml").write_text(text)
    build_classicmodels(f"sqlite:///{project / '.headwater' / 'classicmodels.db'}")
    ws = Workspace.open(project)
    record = ws.run("classicmodels")
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT task_id, status, rows FROM task_runs WHERE run_id = :r"),
            {"r": record.run_id},
        ).all()
    engine.dispose()
    assert {r.task_id: (r.status, r.rows) for r in rows} == {
        t.task_id: ("success", t.rows) for t in record.tasks
    }
    assert not (project / ".headwater" / "state.db").exists()
    ws.close()


def test_cli_reports_the_fix_and_migrate_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from headwater.cli import app

    runner = CliRunner()
    project = str(tmp_path / "p")
    assert runner.invoke(app, ["init", project]).exit_code == 0
    assert runner.invoke(app, ["runs", "-p", project]).exit_code == 0  # creates the store
    from alembic import command

    from headwater.state.store import _alembic_config, create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'p' / '.headwater' / 'state.db'}")
    config = _alembic_config()
    with engine.begin() as conn:  # as the first release left it
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    engine.dispose()
    refused = runner.invoke(app, ["runs", "-p", project])
    assert refused.exit_code == 1
    assert "error: the metadata store at sqlite:///" in refused.stderr
    assert "hint: run `headwater migrate`" in refused.stderr
    migrated = runner.invoke(app, ["migrate", "-p", project])
    assert migrated.exit_code == 0 and f"→ {head_revision()}" in migrated.stdout


def test_state_and_catalog_can_share_one_database_given_relatively(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "classicmodels")
    text = (project / "headwater.yaml").read_text()
    text += (
        "state:\n  url: sqlite:///meta/shared.db\nlake:\n  catalog_url: sqlite:///meta/shared.db\n"
    )
    (project / "headwater.yaml").write_text(text)
    (project / "meta").mkdir()
    build_classicmodels(f"sqlite:///{project / '.headwater' / 'classicmodels.db'}")
    ws = Workspace.open(project)
    ws.run("classicmodels")
    engine = sa.create_engine(f"sqlite:///{project / 'meta' / 'shared.db'}")
    names = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert {"runs", "task_runs", "iceberg_tables"} <= names
    assert Workspace.open(project).runs()[0].status == "success"


def test_the_head_constant_is_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    from headwater.state.store import _alembic_config

    assert ScriptDirectory.from_config(_alembic_config()).get_current_head() == head_revision()


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_new_store_has_exactly_the_migrated_schema(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from headwater.state import schema
    from headwater.state.store import _alembic_config, create_engine

    second = None
    if database == "sqlite":
        created_url = f"sqlite:///{tmp_path / 'created.db'}"
        migrated_url = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        created_url = request.getfixturevalue("postgres_url")
        second = services.postgres_database()
        migrated_url = next(second)
    request.addfinalizer(lambda: second.close() if second else None)
    created = Store.open(created_url)  # a new store: created from the tables' definitions
    engine = create_engine(migrated_url)
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    for url in (created_url, migrated_url):
        check = create_engine(url)
        with check.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
            indexes = {
                t: sorted(i["name"] for i in sa.inspect(conn).get_indexes(t))
                for t in sa.inspect(conn).get_table_names()
            }
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        check.dispose()
        assert diff == [], f"{url}: {diff}"
        assert version == head_revision()
        if url == created_url:
            created_indexes = indexes
        else:
            assert indexes == created_indexes
    created.close()
    engine.dispose()
