"""Profiling a table (statistics, suggested checks that pass) and the static HTML data docs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

from headwater import Workspace
from headwater.cli import app
from headwater.errors import LakeError, TableNotFound
from headwater.lake import replace_table
from headwater.quality.profile import _outward, suggest, suite_yaml
from headwater.quality.suite import load_suites

AWKWARD = -0.00043190510853288164  # DuckDB reads this literal back as a larger double
SCRIPT = "<script>alert(1)</script>"


def orders() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
            "customer": pa.array([10, 11, None, 12, 12, 10], pa.int64()),
            "status": ["new", "paid", "paid", "new", "shipped", "new"],
            "note": ["a", None, "c", "d", "e", "f"],
            "amount": pa.array([AWKWARD, 0.1 + 0.2, 2.5, 1e-7, 1000.0, 3.0]),
            "price": pa.array(
                [Decimal(v) for v in ("1.50", "2.25", "9.99", "100.00", "0.01", "5.00")],
                pa.decimal128(10, 2),
            ),
            "day": [date(2024, 1, d) for d in (5, 1, 9, 3, 31, 2)],
            "at": pa.array(
                [datetime(2024, 1, d, 10, 30, 15, 123456) for d in (5, 1, 9, 3, 31, 2)],
                pa.timestamp("us"),
            ),
            "at_utc": pa.array(
                [datetime(2024, 2, d, 8, 0, tzinfo=UTC) for d in (5, 1, 9, 3, 28, 2)],
                pa.timestamp("us", tz="UTC"),
            ),
            "tags": pa.array([["x"], ["y"], [], None, ["x", "y"], ["z"]], pa.list_(pa.string())),
        }
    )


def write(ws: Workspace, name: str, table: pa.Table) -> None:
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    replace_table(ws.lake, name, reader)


@pytest.fixture
def ws(tmp_path: Path) -> Any:
    (tmp_path / "headwater.yaml").write_text("name: shop\n")
    workspace = Workspace.open(tmp_path)
    write(workspace, "shop.orders", orders())
    yield workspace
    workspace.close()


def test_profile_counts_nulls_distinct_and_bounds(ws: Workspace) -> None:
    p = ws.profile("shop.orders")
    assert p.table == "shop.orders" and p.rows == 6
    c = {col.name: col for col in p.columns}
    assert list(c) == orders().column_names
    assert {n: (col.nulls, col.distinct) for n, col in c.items()} == {
        "id": (0, 6),
        "customer": (1, 3),
        "status": (0, 3),
        "note": (1, 5),
        "amount": (0, 6),
        "price": (0, 6),
        "day": (0, 6),
        "at": (0, 6),
        "at_utc": (0, 6),
        "tags": (1, None),  # nested: no exact distinct count
    }
    assert (c["id"].low, c["id"].high, c["id"].min, c["id"].max) == (1, 6, "1", "6")
    assert (c["amount"].low, c["amount"].high) == (AWKWARD, 1000.0)
    assert (c["price"].low, c["price"].high) == (Decimal("0.01"), Decimal("100.00"))
    assert (c["day"].low, c["day"].high) == (date(2024, 1, 1), date(2024, 1, 31))
    assert c["at"].high == datetime(2024, 1, 31, 10, 30, 15, 123456)
    assert c["at_utc"].low == datetime(2024, 2, 1, 8, 0, tzinfo=UTC)
    assert c["status"].values == ("new", "paid", "shipped")
    assert c["note"].values == ("a", "c", "d", "e", "f")
    assert c["id"].mean is not None and float(c["id"].mean) == pytest.approx(3.5)
    assert c["tags"].low is None and c["status"].low is None


def test_suggested_suite_passes_on_the_profiled_data(ws: Workspace) -> None:
    p = ws.profile("shop.orders")
    checks = suggest(p)
    assert checks == [
        {"row_count": {"min": 1}},
        {"not_null": "id"},
        {"unique": "id"},
        {"between": {"column": "id", "min": 1, "max": 6}},
        {"between": {"column": "customer", "min": 10, "max": 12}},
        {"not_null": "status"},
        {"accepted_values": {"column": "status", "values": ["new", "paid", "shipped"]}},
        {"not_null": "amount"},
        {"unique": "amount"},
        {"between": {"column": "amount", "min": -0.000431905108532882, "max": 1000}},
        {"not_null": "price"},
        {"unique": "price"},
        {"between": {"column": "price", "min": 0.01, "max": 100}},
        {"not_null": "day"},
        {"unique": "day"},
        {"between": {"column": "day", "min": date(2024, 1, 1), "max": date(2024, 1, 31)}},
        {"not_null": "at"},
        {"unique": "at"},
        {
            "between": {
                "column": "at",
                "min": datetime(2024, 1, 1, 10, 30, 15, 123456),
                "max": datetime(2024, 1, 31, 10, 30, 15, 123456),
            }
        },
        {"not_null": "at_utc"},
        {"unique": "at_utc"},
        {
            "between": {
                "column": "at_utc",
                "min": datetime(2024, 2, 1, 8, 0, tzinfo=UTC),
                "max": datetime(2024, 2, 28, 8, 0, tzinfo=UTC),
            }
        },
    ]
    folder = ws.project.root / "checks"
    folder.mkdir()
    (folder / "suggested.yaml").write_text(suite_yaml(p))
    suite = load_suites(folder, None, "headwater.yaml")["suggested"]
    assert len(suite.tables["shop.orders"]) == len(checks)
    results = ws.check("suggested").results
    assert [(r.check, r.passed, r.error) for r in results if not r.passed] == []
    assert len(results) == len(checks)


def test_bounds_round_outwards_to_fifteen_digits() -> None:
    low, high = _outward(AWKWARD, down=True), _outward(AWKWARD, down=False)
    assert low < AWKWARD < high and (low, high) == (-0.000431905108532882, -0.000431905108532881)
    assert _outward(0.1 + 0.2, down=False) == 0.300000000000001
    assert _outward(Decimal("2.50"), down=True) == 2.5
    assert _outward(Decimal("7.00"), down=True) == 7 and isinstance(_outward(7.0, True), int)
    assert _outward(float("nan"), down=True) is None
    assert _outward(date(2024, 1, 1), down=True) == date(2024, 1, 1)


def test_low_cardinality_needs_repeats_and_an_empty_table_suggests_nothing(
    ws: Workspace,
) -> None:
    write(ws, "shop.codes", pa.table({"code": ["a", "b", "c"]}))
    p = ws.profile("shop.codes")
    # three rows with three values: a list of them says nothing about the next row
    assert p.columns[0].values == ("a", "b", "c")
    assert {"accepted_values": {"column": "code", "values": ["a", "b", "c"]}} not in suggest(p)
    write(ws, "shop.empty", pa.table({"x": pa.array([], pa.int64())}))
    empty = ws.profile("shop.empty")
    assert (empty.rows, empty.columns[0].nulls, suggest(empty)) == (0, 0, [])
    assert yaml.safe_load(suite_yaml(empty)) == {"shop.empty": []}


def test_profile_errors(ws: Workspace) -> None:
    with pytest.raises(TableNotFound, match="did you mean `shop.orders`"):
        ws.profile("shop.order")
    with pytest.raises(LakeError, match="not a table name"):
        ws.profile("orders")


def test_profile_cli(ws: Workspace) -> None:
    cli, root = CliRunner(), str(ws.project.root)
    shown = cli.invoke(app, ["profile", "shop.orders", "-p", root])
    assert shown.exit_code == 0, shown.output
    assert "shop.orders: 6 rows" in shown.stdout
    suite_text = shown.stdout[shown.stdout.index("# Suggested by") :]
    assert yaml.safe_load(suite_text)["shop.orders"][:2] == [
        {"row_count": {"min": 1}},
        {"not_null": "id"},
    ]
    written = cli.invoke(
        app, ["profile", "shop.orders", "-p", root, "--write-suite", "checks/orders.yaml"]
    )
    target = ws.project.root / "checks" / "orders.yaml"
    assert written.exit_code == 0 and f"wrote the suggested checks to {target}" in written.stdout
    assert "# Suggested by" not in written.stdout and written.stderr == ""
    before = target.read_text()
    again = cli.invoke(
        app, ["profile", "shop.orders", "-p", root, "--write-suite", "checks/orders.yaml"]
    )
    assert again.exit_code == 1 and "exists; profile does not overwrite" in again.stderr
    assert target.read_text() == before
    assert cli.invoke(app, ["check", "orders", "-p", root]).exit_code == 0
    outside = cli.invoke(
        app, ["profile", "shop.orders", "-p", root, "--write-suite", "elsewhere/o.yaml"]
    )
    assert outside.exit_code == 0 and "reads" in outside.stderr
    missing = cli.invoke(app, ["profile", "shop.nope", "-p", root])
    assert missing.exit_code == 1 and "not in the catalog" in missing.stderr


# -- data docs -----------------------------------------------------------------------------


@pytest.fixture
def checked(ws: Workspace) -> Workspace:
    """Orders with a `<script>` value, a suite whose checks fail and pass, evaluated twice."""
    data = orders().set_column(2, "status", pa.array(["new", "paid", SCRIPT, "new", "x", "new"]))
    write(ws, "shop.orders", data)
    folder = ws.project.root / "checks"
    folder.mkdir()
    (folder / "s.yaml").write_text(
        "shop.orders:\n"
        "  - not_null: customer\n"
        "  - accepted_values: {column: status, values: [new, paid]}\n"
        f"    name: '{SCRIPT}'\n"
        "    severity: warn\n"
        "  - row_count: {min: 1}\n"
    )
    ws.check("s")
    ws.check("s")
    (folder / "t.yaml").write_text("shop.<gone>:\n  - not_null: id\n")
    return ws


def pages(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*.html")}


def test_docs_show_latest_results_history_and_escape_everything(checked: Workspace) -> None:
    index = checked.build_docs()
    folder = checked.project.root / ".headwater" / "docs"
    assert index == folder / "index.html"
    html = pages(folder)
    assert sorted(html) == ["index.html", "tables/shop._gone.html", "tables/shop.orders.html"]
    for text in html.values():
        assert "<script" not in text  # every value escaped, and the docs need no script
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # offline
    main, page = html["index.html"], html["tables/shop.orders.html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in main
    rows = re.findall(r"<tr><td><a href=\"tables/shop\.orders\.html\">.*?</tr>", main)
    statuses = [re.findall(r'class="badge \w+">(\w+)', r)[0] for r in rows]
    assert statuses == ["fail", "warn", "pass"]
    assert 'href="tables/shop._gone.html">shop.&lt;gone&gt;</a>' in main
    assert "not evaluated" in html["tables/shop._gone.html"]
    # one chart per check, each with a dot per recorded evaluation
    assert page.count("<svg") == 3 and page.count("<circle") == 6
    assert "1 of 6 failing" in page  # not_null_customer's tooltip
    assert "Failing rows" not in page and "failing rows are not recorded" in page


def test_docs_evaluated_at_build_time_show_failing_rows(checked: Workspace, tmp_path: Path) -> None:
    index = checked.build_docs(tmp_path / "out", evaluate=True)
    page = (index.parent / "tables" / "shop.orders.html").read_text()
    assert "Checks evaluated at build time" in page and "Failing rows" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page  # the failing row's status
    assert page.count("<circle") == 9  # the build's evaluation joined the history
    gone = (index.parent / "tables" / "shop._gone.html").read_text()
    assert "could not be evaluated at build time" in gone and "shop.&lt;gone&gt;" in gone
    assert len(checked.store.check_history("shop.orders")) == 9


def test_docs_cli(checked: Workspace, tmp_path: Path) -> None:
    cli, root = CliRunner(), str(checked.project.root)
    built = cli.invoke(app, ["docs", "build", "-p", root, "--out", str(tmp_path / "d")])
    assert built.exit_code == 0, built.output
    assert built.stdout.strip() == str(tmp_path / "d" / "index.html")
    (tmp_path / "file").write_text("")
    refused = cli.invoke(app, ["docs", "build", "-p", root, "--out", str(tmp_path / "file")])
    assert refused.exit_code == 1 and "is a file" in refused.stderr
