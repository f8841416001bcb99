"""The file source on real files: formats, compression, encodings, rejects, new files only."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from headwater.connect.storage import FileEntry
from headwater.connect.storage.local import LocalStorage
from headwater.errors import SourceError
from headwater.ingest.extraction import Extraction, ReadContext
from headwater.ingest.files import state
from headwater.ingest.files.resource import FileResource
from headwater.ingest.resources import build_resource
from headwater.project import load_project
from headwater.project.files import FileTable


def read(folder: Path, previous: dict[str, Any] | None = None, **table: Any) -> Extraction:
    resource = FileResource(FileTable(name="t", **table), LocalStorage(folder), batch_rows=2)
    return resource.read(ReadContext(state=previous or {}))


def rows(extraction: Extraction, order: str | None = None) -> list[dict[str, Any]]:
    """The rows read, without the columns that say where each came from (``origin``)."""
    reader = extraction.readers[0]
    table = pa.Table.from_batches(list(reader), reader.schema).select(extraction.schema.names)
    out = table.to_pylist()
    return sorted(out, key=lambda r: r[order]) if order else out


def write(path: Path, text: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode(encoding) if isinstance(text, str) else text
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def test_csv_with_header_types_and_file_column(tmp_path: Path) -> None:
    write(tmp_path / "trips" / "a.csv", "id,fare,day\n1,2.5,2024-01-01\n2,3.0,2024-01-02\n")
    write(tmp_path / "trips" / "b.csv.gz", "id,fare,day\n3,4.25,2024-01-03\n")
    extraction = read(tmp_path, glob="trips/*.csv*", file_column="source_file")
    got = rows(extraction, "id")
    assert [(r["id"], r["fare"], str(r["day"])) for r in got] == [
        (1, 2.5, "2024-01-01"),
        (2, 3.0, "2024-01-02"),
        (3, 4.25, "2024-01-03"),
    ]
    assert [r["source_file"] for r in got] == ["trips/a.csv", "trips/a.csv", "trips/b.csv.gz"]
    assert extraction.schema.field("day").type == pa.date32()
    assert extraction.rejects() == [] and extraction.complete


def test_tsv_without_header_and_csv_options(tmp_path: Path) -> None:
    write(tmp_path / "a.tsv", "1\tx\n2\ty\n")
    got = rows(read(tmp_path, glob="*.tsv", header=False), "column0")
    assert got == [{"column0": 1, "column1": "x"}, {"column0": 2, "column1": "y"}]

    write(tmp_path / "semi" / "b.txt", "id;name;score\n1;'a;b';NA\n2;c;7\n")
    got = rows(
        read(tmp_path, glob="semi/*.txt", format="csv", delimiter=";", quote="'", nulls="NA"),
        "id",
    )
    assert got == [{"id": 1, "name": "a;b", "score": None}, {"id": 2, "name": "c", "score": 7}]


def test_explicit_columns_and_zstd(tmp_path: Path) -> None:
    target = tmp_path / "z.csv.zst"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT i AS id, 'n' || i AS code FROM range(5) t(i)) TO '{target}' "
        "(FORMAT csv, HEADER true, COMPRESSION zstd)"
    )
    con.close()
    extraction = read(tmp_path, glob="*.zst", columns={"id": "VARCHAR", "code": "VARCHAR"})
    assert extraction.schema.field("id").type == pa.string()
    assert [r["code"] for r in rows(extraction, "id")] == [f"n{i}" for i in range(5)]


def test_latin1_is_read_with_its_encoding_and_rejected_without_it(tmp_path: Path) -> None:
    write(tmp_path / "l.csv", "id,city\n1,Malmö\n2,Zürich\n", encoding="latin-1")
    got = rows(read(tmp_path, glob="*.csv", encoding="latin1"), "id")
    assert [r["city"] for r in got] == ["Malmö", "Zürich"]
    wrong = read(tmp_path, glob="*.csv")  # read as utf-8: the rows that do not decode
    assert rows(wrong) == []
    rejects = wrong.rejects()
    assert [(r.location, r.column) for r in rejects] == [("l.csv:2", "city"), ("l.csv:3", "city")]
    assert rejects[0].reason.startswith("invalid encoding")
    assert "Set `encoding:` on the table" in rejects[0].reason


def test_malformed_csv_rows_are_rejects_with_file_line_and_reason(tmp_path: Path) -> None:
    good = "".join(f"{i},n{i},{i}.5\n" for i in range(1, 40))
    write(tmp_path / "ok.csv", "id,name,amount\n" + good)
    write(
        tmp_path / "bad.csv",
        "id,name,amount\n" + good + "40,x,1.5,extra\n41,y,not-a-number\n42,z,2.5\n",
    )
    types = {"id": "INTEGER", "name": "VARCHAR", "amount": "DOUBLE"}
    extraction = read(tmp_path, glob="*.csv", columns=types)
    got = rows(extraction)
    assert len(got) == 39 * 2 + 1 and max(r["id"] for r in got) == 42
    rejects = sorted(extraction.rejects(), key=lambda r: r.location)
    assert [r.location for r in rejects] == ["bad.csv:41", "bad.csv:42"]
    assert (
        rejects[0].reason.startswith("too many columns") and rejects[0].record == "40,x,1.5,extra"
    )
    assert rejects[1].reason.startswith("cast") and rejects[1].column == "amount"
    assert rejects[1].record == "41,y,not-a-number"


def test_json_lines_bad_lines_are_rejects(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": 1, "user": {"name": "a"}}),
        '{"id": 2, "user": ',
        "",
        "[1, 2]",
        json.dumps({"id": 3, "tags": ["x"]}),
    ]
    write(tmp_path / "events" / "1.jsonl.gz", "\n".join(lines) + "\n")
    write(tmp_path / "events" / "2.jsonl", json.dumps({"id": 4, "extra": True}) + "\n")
    extraction = read(tmp_path, glob="events/*", file_column="f")
    got = rows(extraction, "id")
    assert [r["id"] for r in got] == [1, 3, 4]
    assert got[0]["user"] == {"name": "a"} and got[1]["tags"] == ["x"] and got[2]["extra"]
    # a file rewritten without its bad lines still names the original
    assert [r["f"] for r in got] == ["events/1.jsonl.gz", "events/1.jsonl.gz", "events/2.jsonl"]
    rejects = extraction.rejects()
    assert [(r.location, r.record) for r in rejects] == [
        ("events/1.jsonl.gz:2", '{"id": 2, "user": '),
        ("events/1.jsonl.gz:4", "[1, 2]"),
    ]
    assert rejects[0].reason.startswith("invalid JSON") and "not a JSON object" in rejects[1].reason


def test_json_documents_and_a_broken_one(tmp_path: Path) -> None:
    write(tmp_path / "a.json", json.dumps([{"id": 1, "geo": {"lat": 1.5}}, {"id": 2}]))
    write(tmp_path / "b.json", json.dumps({"id": 3, "geo": {"lat": 2.5}}))
    got = rows(read(tmp_path, glob="*.json"), "id")
    assert [(r["id"], r["geo"]) for r in got] == [(1, {"lat": 1.5}), (2, None), (3, {"lat": 2.5})]

    write(tmp_path / "c.json", '[{"id": 4}, {"id": ')
    with pytest.raises(SourceError, match=r"c\.json") as info:
        rows(read(tmp_path, glob="*.json"))
    assert "fix or remove the file" in str(info.value)


def test_parquet_union_by_name_and_corrupt_file(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute(f"COPY (SELECT 1 AS id, 'a' AS name) TO '{tmp_path / 'p1.parquet'}'")
    con.execute(f"COPY (SELECT 2 AS id, 9.5 AS score) TO '{tmp_path / 'p2.parquet'}'")
    con.close()
    got = rows(read(tmp_path, glob="*.parquet"), "id")
    assert got == [{"id": 1, "name": "a", "score": None}, {"id": 2, "name": None, "score": 9.5}]

    write(tmp_path / "p3.parquet", b"PAR1 not really parquet")
    with pytest.raises(SourceError, match=r"p3\.parquet"):
        rows(read(tmp_path, glob="*.parquet"))


def test_csv_schemas_are_unioned_by_name(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "id,amount\n1,5\n")
    write(tmp_path / "b.csv", "amount,id,note\n2.5,2,hi\n")
    extraction = read(tmp_path, glob="*.csv")
    assert extraction.schema.names == ["id", "amount", "note"]
    assert extraction.schema.field("amount").type == pa.float64()
    assert rows(extraction, "id") == [
        {"id": 1, "amount": 5.0, "note": None},
        {"id": 2, "amount": 2.5, "note": "hi"},
    ]


def test_new_files_only_then_a_changed_file_is_read_again(tmp_path: Path) -> None:
    write(tmp_path / "d" / "1.csv", "id\n1\n")
    first = read(tmp_path, glob="d/*.csv")
    assert [r["id"] for r in rows(first)] == [1] and first.complete
    after_first = first.state()
    assert list(after_first["files"]) == ["d/1.csv"]

    write(tmp_path / "d" / "2.csv", "id\n2\n")
    second = read(tmp_path, after_first, glob="d/*.csv")
    assert [r["id"] for r in rows(second)] == [2] and not second.complete
    after_second = second.state()
    assert sorted(after_second["files"]) == ["d/1.csv", "d/2.csv"]

    nothing = read(tmp_path, after_second, glob="d/*.csv")
    assert rows(nothing) == [] and not nothing.complete
    assert nothing.state() == after_second

    path = write(tmp_path / "d" / "1.csv", "id\n1\n10\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    third = read(tmp_path, after_second, glob="d/*.csv")
    assert [r["id"] for r in rows(third)] == [1, 10]


def test_empty_match_is_no_rows_and_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    extraction = read(tmp_path, glob="in/*.csv")
    assert rows(extraction) == [] and extraction.state() == {"version": 1, "files": {}}
    assert not extraction.complete  # nothing matched: never a reason to delete rows
    with pytest.raises(SourceError) as info:
        read(tmp_path, glob="missing/**/*.csv")
    assert f"folder {tmp_path / 'missing'} does not exist" in str(info.value)
    assert "check the connection's `url`" in str(info.value)


def test_a_glob_that_matches_nothing_is_said_not_passed_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "in").mkdir()
    with caplog.at_level("WARNING", logger="headwater"):
        read(tmp_path, glob="in/*.cvs")
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning == (
        f"t: no file matches `in/*.cvs` under {tmp_path}; check the table's `glob` and the "
        "connection's `path`"
    )
    write(tmp_path / "in" / "a.csv", "id\n1\n")
    seen = read(tmp_path, glob="in/*.csv").state()
    (tmp_path / "in" / "a.csv").unlink()
    caplog.clear()
    with caplog.at_level("WARNING", logger="headwater"):
        read(tmp_path, seen, glob="in/*.csv")
    assert "no file matches `in/*.csv`" in caplog.text
    assert "any more (the table keeps its rows)" in caplog.text


def test_mixed_formats_need_a_narrower_glob(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "id\n1\n")
    write(tmp_path / "b.jsonl", '{"id": 2}\n')
    with pytest.raises(SourceError, match=r"several formats: a\.csv \(csv\), b\.jsonl \(jsonl\)"):
        read(tmp_path, glob="*")


def test_many_files_pack_the_state() -> None:
    entries = [
        FileEntry(f"year=2024/part-{i:05d}.csv", i, str(10**18 + i), "") for i in range(3000)
    ]
    packed = state.encode(entries)
    plain = json.dumps({e.path: [e.size, e.version] for e in entries})
    assert isinstance(packed["files"], str) and len(json.dumps(packed)) < len(plain) / 4
    seen = state.decode(packed)
    assert len(seen) == 3000 and state.changed(entries, seen) == []
    assert state.decode(state.encode(entries[:2])) == {
        "year=2024/part-00000.csv": (0, str(10**18)),
        "year=2024/part-00001.csv": (1, str(10**18 + 1)),
    }


def test_csv_options_do_not_apply_to_parquet() -> None:
    with pytest.raises(ValueError, match=r"`header`: options of CSV/TSV files"):
        FileTable(name="t", glob="*.parquet", format="parquet", header=True)


def test_built_from_the_project_file(tmp_path: Path) -> None:
    write(tmp_path / "landing" / "orders.csv", "id,total\n1,9.5\n")
    (tmp_path / "headwater.yaml").write_text(
        "name: shop\n"
        "connections:\n  drop: {type: files, url: landing}\n"
        "sources:\n  drops:\n    connection: drop\n    load: append\n"
        "    tables:\n      - {name: orders, glob: '*.csv', file_column: src}\n"
    )
    project = load_project(tmp_path)
    source = project.config.sources["drops"]
    connection = project.config.connections["drop"]
    resource = build_resource(project, source, source.tables[0], connection)
    assert rows(resource.read(ReadContext())) == [{"id": 1, "total": 9.5, "src": "orders.csv"}]


def test_columns_typed_differently_in_two_files_widen_without_loss() -> None:
    import duckdb

    from headwater.connect.sql.duckdb_types import common_type

    con = duckdb.connect()
    assert common_type(con, ["INTEGER", "DOUBLE"]) == "DOUBLE"
    assert common_type(con, ["DATE", "TIMESTAMP"]) == "TIMESTAMP"
    # DuckDB's UNION type would be DATE: a number file's values would fail to convert
    assert common_type(con, ["BIGINT", "DATE"]) == "VARCHAR"
    assert common_type(con, ["BOOLEAN", "DATE"]) == "VARCHAR"
    assert common_type(con, ["INTEGER[]", "VARCHAR"]) == "VARCHAR"


def test_a_dangling_link_among_the_files_is_not_a_file(tmp_path: Path) -> None:
    from headwater.connect.storage import open_storage

    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "gone.csv").symlink_to(tmp_path / "nowhere.csv")
    assert [f.path for f in open_storage(str(tmp_path), tmp_path).list("*.csv")] == ["a.csv"]


def test_ragged_lines_and_an_unterminated_quote_are_each_rejected_once(tmp_path: Path) -> None:
    write(
        tmp_path / "r.csv",
        'id,name,n\n1,a,10\nx,b,c,d\n3\n4,d,40\n5,"open,50\n6,f,60\n',
    )
    extraction = read(
        tmp_path, glob="*.csv", columns={"id": "INTEGER", "name": "VARCHAR", "n": "INTEGER"}
    )
    assert rows(extraction) == [{"id": 1, "name": "a", "n": 10}, {"id": 4, "name": "d", "n": 40}]
    rejects = extraction.rejects()
    assert [(r.location, r.column, r.record) for r in rejects] == [
        ("r.csv:3", "id, n", "x,b,c,d"),
        ("r.csv:4", "name, n", "3"),  # two missing values, one line
        ("r.csv:6", "name", '5,"open,50\n6,f,60\n'),
    ]
    assert rejects[0].reason.count("cast:") == 2 and "too many columns" in rejects[0].reason
    assert rejects[1].reason.startswith("missing columns")
    assert rejects[2].reason.startswith("unquoted value: Value with unterminated quote found.")
    assert "the lines after it, to the end of the file" in rejects[2].reason


def test_an_unterminated_quote_is_rejected_when_the_sniffer_finds_no_quotes(
    tmp_path: Path,
) -> None:
    # ragged lines make DuckDB's sniffer choose no quote character at all
    write(tmp_path / "s.csv", 'id,name\n1,a\n2,b,c\n3\n4,"unterminated\n5,e\n')
    extraction = read(tmp_path, glob="*.csv")
    assert rows(extraction) == [{"id": 1, "name": "a"}]
    assert [(r.location, r.record) for r in extraction.rejects()] == [
        ("s.csv:3", "2,b,c"),
        ("s.csv:4", "3"),
        ("s.csv:5", '4,"unterminated\n5,e\n'),
    ]


def file_project(root: Path, contract: str = "evolve") -> Path:
    (root / "data").mkdir(parents=True)
    (root / "headwater.yaml").write_text(
        "name: shop\n"
        "connections:\n  drop: {type: files, url: data}\n"
        f"sources:\n  drops:\n    connection: drop\n"
        f"    load: {{strategy: append, contract: {contract}}}\n"
        "    tables:\n      - {name: t, glob: '*.csv'}\n"
        "pipelines:\n  p:\n    tasks:\n      - ingest: drops\n"
    )
    return root


@pytest.mark.parametrize("contract", ["evolve", "discard_row", "discard_value"])
def test_a_value_that_does_not_read_as_the_tables_type_is_quarantined_with_file_and_line(
    tmp_path: Path, contract: str
) -> None:
    from typer.testing import CliRunner

    from headwater import Workspace
    from headwater.cli import app

    root = file_project(tmp_path / "p", contract)
    write(root / "data" / "a.csv", "id,n\n1,2\n3,4\n")
    ws = Workspace.open(root)
    try:
        ws.run("p")
        # alone, this file's `n` reads as text; the table says BIGINT
        write(root / "data" / "b.csv", "id,n\n5,6\n7,x\n9,10\n")
        record = ws.run("p")
        assert ws.query("SELECT id, n FROM raw.t ORDER BY id").to_pylist() == [
            {"id": i, "n": n} for i, n in [(1, 2), (3, 4), (5, 6), (9, 10)]
        ]
        quarantined = ws.query(
            'SELECT "column", location, record, reason FROM raw.t__quarantine'
        ).to_pylist()
        assert record.tasks[0].details["rejected"] == 1
        assert record.tasks[0].details["quarantine"] == "raw.t__quarantine"
    finally:
        ws.close()
    assert quarantined == [
        {
            "column": "n",
            "location": "b.csv:3",
            "record": "7,x",
            "reason": 'cast: Error when converting column "n". Could not convert string "x" '
            "to 'BIGINT'",
        }
    ]
    write(root / "data" / "c.csv", "id,n\n11,y\n")
    shown = CliRunner().invoke(app, ["run", "p", "-p", str(root)])
    assert shown.exit_code == 0, shown.output
    assert (
        "quarantine: raw.t: 1 row kept out of the table, in raw.t__quarantine — to see them: "
        'headwater query "SELECT * FROM raw.t__quarantine"'
    ) in shown.output


def test_json_lines_fields_of_mixed_types_are_text_not_json_text(tmp_path: Path) -> None:
    lines = [
        {"id": 1, "a": 1, "s": {"b": 1}, "l": [1]},
        {"id": 2, "a": "x", "s": {"b": "y"}, "l": ["z", 2]},
        {"id": 3, "a": 2.5, "s": {"b": {"c": 1}}, "l": None},
        {"id": 4, "a": True, "s": None},
        {"id": 5, "a": {"k": "v"}, "s": {"b": 'q"uote'}},
        {"id": 6, "a": None},
    ]
    write(tmp_path / "m.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    extraction = read(tmp_path, glob="*.jsonl")
    assert extraction.schema.field("a").type == pa.string()
    assert rows(extraction, "id") == [
        {"id": 1, "a": "1", "s": {"b": "1"}, "l": ["1"]},
        {"id": 2, "a": "x", "s": {"b": "y"}, "l": ["z", "2"]},
        {"id": 3, "a": "2.5", "s": {"b": '{"c":1}'}, "l": None},
        {"id": 4, "a": "true", "s": None, "l": None},
        {"id": 5, "a": '{"k":"v"}', "s": {"b": 'q"uote'}, "l": None},
        {"id": 6, "a": None, "s": None, "l": None},
    ]


def test_a_json_line_over_the_limit_is_a_json_lines_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headwater.ingest.files import jsonl_files

    monkeypatch.setattr(jsonl_files, "MAX_LINE_BYTES", 1 << 20)
    line = json.dumps({"id": 2, "s": "y" * (2 << 20)})
    write(tmp_path / "big.jsonl", '{"id": 1}\n' + line + "\n")
    with pytest.raises(
        SourceError,
        match=rf"cannot read big\.jsonl as JSON Lines: line 2 is {len(line):,} bytes long, "
        r"more than the 1,048,576 bytes a line may have",
    ) as info:
        read(tmp_path, glob="*.jsonl")
    assert "CSV" not in str(info.value)
    assert info.value.hint == "split the object into several lines, or keep it in a file of its own"


# -- rows refused after they were read: quarantined, or failing the load, with file and line --


def located_project(root: Path, load: str, glob: str = "*.csv") -> Path:
    (root / "data").mkdir(parents=True)
    (root / "headwater.yaml").write_text(
        "name: shop\n"
        "connections:\n  drop: {type: files, url: data}\n"
        f"sources:\n  drops:\n    connection: drop\n    load: {load}\n"
        f"    tables:\n      - {{name: t, glob: '{glob}'}}\n"
        "pipelines:\n  p:\n    tasks:\n      - ingest: drops\n"
    )
    return root


def quarantined(ws: Any) -> list[dict[str, Any]]:
    return ws.query(  # type: ignore[no-any-return]
        'SELECT location, "column", record, reason FROM raw.t__quarantine ORDER BY location'
    ).to_pylist()


@pytest.mark.parametrize("contract", ["discard_row", "discard_value"])
def test_rows_and_values_the_contract_refuses_are_quarantined_with_file_and_line(
    tmp_path: Path, contract: str
) -> None:
    from headwater import Workspace

    root = located_project(tmp_path / "p", f"{{strategy: append, contract: {contract}}}")
    write(root / "data" / "a.csv", "id,n\n1,2\n3,4\n")
    with Workspace.open(root) as ws:
        ws.run("p")
        # a new column `extra`, whose values the contract refuses; before them a blank line,
        # a line the reader refuses, and a quoted value over two lines (lines 5 and 6)
        write(
            root / "data" / "b.csv",
            'id,n,extra\n5,6,\n\n11,zz,\n7,8,"two\nlines"\n9,10,\n13,14,y\n',
        )
        ws.run("p")
        rows_kept = ws.query("SELECT id, n FROM raw.t ORDER BY id").to_pylist()
        kept = quarantined(ws)
    reader_reject = {
        "location": "b.csv:4",
        "column": "n",
        "record": "\n11,zz,",
        "reason": 'cast: Error when converting column "n". Could not convert string "zz" '
        "to 'BIGINT'",
    }
    if contract == "discard_row":
        assert [r["id"] for r in rows_kept] == [1, 3, 5, 9]
        assert kept == [
            reader_reject,
            {
                "location": "b.csv:5",
                "column": None,
                "record": '{"id": 7, "n": 8, "extra": "two\\nlines"}',
                "reason": "column `extra` is not a column of the table (contract discard_row)",
            },
            {
                "location": "b.csv:8",
                "column": None,
                "record": '{"id": 13, "n": 14, "extra": "y"}',
                "reason": "column `extra` is not a column of the table (contract discard_row)",
            },
        ]
    else:
        assert [r["id"] for r in rows_kept] == [1, 3, 5, 7, 9, 13]
        assert kept == [
            reader_reject,
            {
                "location": "b.csv:5",
                "column": "extra",
                "record": '"two\\nlines"',
                "reason": "value of `extra` is not a column of the table (contract discard_value)",
            },
            {
                "location": "b.csv:8",
                "column": "extra",
                "record": '"y"',
                "reason": "value of `extra` is not a column of the table (contract discard_value)",
            },
        ]


def test_a_contract_reject_in_a_file_that_does_not_decode_is_located_by_its_path(
    tmp_path: Path,
) -> None:
    from headwater import Workspace

    root = located_project(tmp_path / "p", "{strategy: append, contract: discard_row}")
    write(root / "data" / "a.csv", "id,n\n1,2\n")
    with Workspace.open(root) as ws:
        ws.run("p")
        # read as UTF-8, the Latin-1 line does not decode: the file cannot be read as lines,
        # so the row the contract refuses (a new column) is known by its file only
        (root / "data" / "b.csv").write_bytes(b"id,n,extra\n3,4,x\n5,M\xf6,\n")
        ws.run("p")
        ids = [r["id"] for r in ws.query("SELECT id FROM raw.t ORDER BY id").to_pylist()]
        kept = quarantined(ws)
    assert ids == [1]
    assert [(r["location"], r["column"]) for r in kept] == [("b.csv", None), ("b.csv:3", "n")]
    assert kept[0]["reason"] == "column `extra` is not a column of the table (contract discard_row)"
    assert kept[1]["reason"].startswith('cast: Error when converting column "n"')


def test_lines_the_reader_refuses_after_quoted_values_over_lines_are_the_file_lines(
    tmp_path: Path,
) -> None:
    from headwater import Workspace

    root = located_project(tmp_path / "p", "{strategy: append}")
    write(root / "data" / "a.csv", "id,n,note\n1,2,x\n")
    with Workspace.open(root) as ws:
        ws.run("p")
        # quoted values over lines 2-3 and 5-7; DuckDB counts each as one line, so it numbers
        # the ragged line 9 as 6 and the line 11 whose `n` does not cast as 8
        write(
            root / "data" / "b.csv",
            'id,n,note\n3,4,"two\nlines"\n5,6,y\n7,8,"three\nline\nvalue"\n'
            "9,10,z\n11,12,w,extra\n13,14,v\n15,zz,u\n17,18,t\n",
        )
        ws.run("p")
        ids = [r["id"] for r in ws.query("SELECT id FROM raw.t ORDER BY id").to_pylist()]
        kept = quarantined(ws)
    assert ids == [1, 3, 5, 7, 9, 13, 17]
    ragged, cast = sorted(kept, key=lambda r: r["record"])
    assert (ragged["location"], ragged["column"], ragged["record"]) == (
        "b.csv:9",
        None,
        "11,12,w,extra",
    )
    assert ragged["reason"].startswith("too many columns: ")
    assert (cast["location"], cast["column"], cast["record"]) == ("b.csv:11", "n", "15,zz,u")
    assert cast["reason"].startswith(
        'cast: Error when converting column "n". Could not convert string "zz"'
    )


def test_a_null_cursor_under_exclude_is_quarantined_with_file_and_line(tmp_path: Path) -> None:
    from headwater import Workspace

    root = located_project(
        tmp_path / "p", "{strategy: append, cursor: day, on_null_cursor: exclude}"
    )
    write(root / "data" / "a.csv", "id,day\n1,2024-01-01\n2,2024-01-02\n")
    write(root / "data" / "b.csv", "id,day\n3,2024-01-03\n\n4,\n5,2024-01-05\n")
    with Workspace.open(root) as ws:
        ws.run("p")
        assert [r["id"] for r in ws.query("SELECT id FROM raw.t ORDER BY id").to_pylist()] == [
            1,
            2,
            3,
            5,
        ]
        assert quarantined(ws) == [
            {
                "location": "b.csv:4",
                "column": "day",
                "record": '{"id": 4, "day": null}',
                "reason": "cursor `day` is NULL (on_null_cursor: exclude)",
            }
        ]


def test_a_json_value_of_the_wrong_type_is_refused_with_file_and_line(tmp_path: Path) -> None:
    from headwater import Workspace

    root = located_project(tmp_path / "p", "{strategy: append, contract: discard_row}", "*.jsonl")
    write(root / "data" / "1.jsonl", '{"id": 1, "n": 2}\n')
    with Workspace.open(root) as ws:
        ws.run("p")
        # `n` is a number on one line and text on another: read as text, it must convert back
        lines = ['{"id": 2, "n": 3}', "", "not json", '{"id": 4, "n": "x"}', '{"id": 5, "n": "6"}']
        write(root / "data" / "2.jsonl", "\n".join(lines) + "\n")
        ws.run("p")
        assert ws.query("SELECT id, n FROM raw.t ORDER BY id").to_pylist() == [
            {"id": 1, "n": 2},
            {"id": 2, "n": 3},
            {"id": 5, "n": 6},
        ]
        assert [(r["location"], r["reason"]) for r in quarantined(ws)] == [
            ("2.jsonl:3", "invalid JSON: Expecting value at column 1"),
            ("2.jsonl:4", "value of `n` does not convert to int64 (contract discard_row)"),
        ]


def test_a_json_value_that_does_not_convert_names_its_file_and_line(tmp_path: Path) -> None:
    from headwater import Workspace
    from headwater.errors import RunFailed

    root = located_project(tmp_path / "p", "{strategy: append}", "*.jsonl")
    write(root / "data" / "1.jsonl", '{"id": 1, "n": 2}\n')
    with Workspace.open(root) as ws:
        ws.run("p")
        write(root / "data" / "2.jsonl", '{"id": 2, "n": 3}\n\n{"id": 4, "n": "x"}\n')
        with pytest.raises(RunFailed, match="raw.t") as failed:
            ws.run("p")
        assert ws.query("SELECT id FROM raw.t").to_pylist() == [{"id": 1}]
    error = failed.value.run.tasks[0].error or ""
    assert (
        "table `raw.t`: column `n` is int64 in the table and string in the source, and the "
        "value 'x' (at 2.jsonl:3) does not convert to int64"
    ) in error
    assert "of a batch" not in error


def test_on_bad_rows_fail_stops_the_load_at_the_first_bad_line(tmp_path: Path) -> None:
    from headwater import Workspace
    from headwater.errors import RunFailed

    root = located_project(tmp_path / "p", "{strategy: append, on_bad_rows: fail}")
    write(root / "data" / "a.csv", "id,n\n1,2\n3,4\n")
    with Workspace.open(root) as ws:
        ws.run("p")
        before = ws.lake.current_metadata("raw.t").location  # type: ignore[union-attr]
        write(root / "data" / "b.csv", "id,n\n5,6\n7,x\n9,10\n11,y\n")
        with pytest.raises(RunFailed, match="raw.t"):
            ws.run("p")
        error = ws.runs()[0].tasks[0].error or ""
        assert ws.lake.current_metadata("raw.t").location == before  # type: ignore[union-attr]
        assert ws.query("SELECT id, n FROM raw.t ORDER BY id").to_pylist() == [
            {"id": 1, "n": 2},
            {"id": 3, "n": 4},
        ]
        assert not ws.lake.exists("raw.t__quarantine")
    assert error.startswith(
        'table `raw.t`: bad input at b.csv:3: cast: Error when converting column "n". '
        "Could not convert string \"x\" to 'BIGINT'; the input: 7,x (and 1 more bad row) — "
        "nothing was loaded: fix or remove the bad input and run again, or set "
        "`on_bad_rows: quarantine` to load the rest and keep it in the table `raw.t__quarantine`"
    )
    # the file list did not move on: with the default, the same file is read again
    yaml = root / "headwater.yaml"
    yaml.write_text(yaml.read_text().replace(", on_bad_rows: fail", ""))
    with Workspace.open(root) as ws:
        ws.run("p")
        assert [r["id"] for r in ws.query("SELECT id FROM raw.t ORDER BY id").to_pylist()] == [
            1,
            3,
            5,
            9,
        ]
        assert [r["location"] for r in quarantined(ws)] == ["b.csv:3", "b.csv:5"]


def test_on_bad_rows_fail_names_the_line_the_contract_refuses(tmp_path: Path) -> None:
    from headwater.errors import BadRows
    from headwater.ingest.load import load
    from headwater.lake import Lake
    from headwater.project.base import Load

    lake = Lake.local(tmp_path / ".headwater")
    write(tmp_path / "in" / "1.jsonl", '{"id": 1, "n": 2}\n')
    resource = FileResource(FileTable(name="t", glob="*.jsonl"), LocalStorage(tmp_path / "in"))
    settings = Load(strategy="append", contract="discard_row", on_bad_rows="fail")
    load(lake, "raw.t", resource, settings)
    before = lake.current_metadata("raw.t").location  # type: ignore[union-attr]
    write(tmp_path / "in" / "2.jsonl", '{"id": 2, "n": 3}\n\n\n{"id": 4, "n": "x"}\n')
    with pytest.raises(
        BadRows,
        match=r"^table `raw\.t`: bad input at 2\.jsonl:4: value of `n` does not convert to "
        r"int64 \(contract discard_row\); the input: \{\"id\": 4, \"n\": \"x\"\} — nothing was "
        "loaded",
    ) as failed:
        load(lake, "raw.t", resource, settings)
    assert (failed.value.location, failed.value.count) == ("2.jsonl:4", 1)
    assert lake.current_metadata("raw.t").location == before  # type: ignore[union-attr]
    assert not lake.exists("raw.t__quarantine")


@pytest.mark.parametrize("name", ["f.csv", "f.jsonl", "f.json"])
def test_a_column_named_file_index_is_data_and_rows_are_still_located(
    tmp_path: Path, name: str
) -> None:
    rows_in = [{"id": 1, "file_index": "x"}, {"id": 2, "file_index": "y"}]
    if name.endswith(".csv"):
        text = "id,file_index\n1,x\n\n2,y\n"
    elif name.endswith(".jsonl"):
        text = "".join(json.dumps(r) + "\n\n" for r in rows_in)
    else:
        text = json.dumps(rows_in)
    write(tmp_path / "d" / name, text)
    extraction = read(tmp_path, glob="d/*", file_column="src")
    assert rows(extraction, "id") == [{**r, "src": f"d/{name}"} for r in rows_in]
    assert extraction.locate is not None
    where = {"f.csv": "d/f.csv:4", "f.jsonl": "d/f.jsonl:3", "f.json": "d/f.json"}
    assert extraction.locate(0, [1]) == [where[name]]
