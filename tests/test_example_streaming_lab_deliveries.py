"""The streaming lab's Firehose-style deliveries through the README's commands, in a copy:
generated sessions, the lab's example record and malformed events in; the enriched sessions
out in files under firehose/usa/ and firehose/international/, the failures under errors/, and
the USA sessions in the Iceberg table lab.usa_sessions."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from headwater.project import load_project

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "streaming_lab"
CLI = [sys.executable, "-c", "from headwater.cli.app import main; main()"]
SESSIONS = 2000
DERIVED = (
    "processing_timestamp",
    "overall_product_quantity",
    "overall_in_shopping_cart",
    "total_different_products",
)
HOUR_PATH = re.compile(r"^firehose/(usa|international)/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")


def run(*args: str, cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON Lines of a delivered file, gzipped or not."""
    body = path.read_bytes()
    if path.suffix == ".gz":
        body = gzip.decompress(body)
    return [json.loads(line) for line in body.decode().splitlines()]


def delivered(root: Path, under: str) -> dict[str, list[dict[str, Any]]]:
    """Every file under ``root/under`` (relative path) and its records."""
    return {
        p.relative_to(root).as_posix(): read_lines(p)
        for p in sorted((root / under).rglob("*"))
        if p.is_file()
    }


def records_under(files: dict[str, list[dict[str, Any]]], prefix: str) -> list[dict[str, Any]]:
    return [r for path, rows in files.items() if path.startswith(prefix) for r in rows]


def hour(moment: datetime) -> tuple[int, int, int, int]:
    return (moment.year, moment.month, moment.day, moment.hour)


@pytest.mark.slow
def test_the_deliveries_write_the_lab_sessions_and_failures_under_their_prefixes(
    tmp_path: Path,
) -> None:
    lab = tmp_path / "lab"
    shutil.copytree(EXAMPLE, lab, ignore=shutil.ignore_patterns(".headwater", "lake"))
    python = sys.executable
    generated = run(python, "generate.py", "--count", str(SESSIONS), "--stdout", cwd=lab)
    sent = {s["session_id"]: s for s in map(json.loads, generated.splitlines())}
    example = json.loads(run(python, "generate.py", "--example", "--stdout", cwd=lab))
    sent[example["session_id"]] = example
    assert len(sent) == SESSIONS + 1

    started = datetime.now(UTC)
    run(python, "generate.py", "--example", cwd=lab)
    run(python, "generate.py", "--count", str(SESSIONS), "--rate", "0", cwd=lab)
    run(*CLI, "stream", "put", "sessions", "--data", "{bad", cwd=lab)
    processed = run(*CLI, "stream", "process", "--once", cwd=lab)
    assert f"etl: {SESSIONS + 2:,} records from sessions" in processed
    assert "1 error" in processed
    # a record that reaches a delivery's stream without being JSON fails in the delivery
    run(*CLI, "stream", "put", "usa", "--data", '{"session_id": "x1"', cwd=lab)
    run(*CLI, "stream", "run", "--once", cwd=lab)
    finished = datetime.now(UTC)

    root = lab / "lake"
    files = delivered(root, "firehose")
    usa = records_under(files, "firehose/usa/")
    international = records_under(files, "firehose/international/")

    # every session exactly once, each in the output of its country
    ids = [r["session_id"] for r in usa + international]
    assert sorted(ids) == sorted(sent)
    assert {r["country"] for r in usa} == {"USA"}
    assert "USA" not in {r["country"] for r in international}
    assert {r["session_id"] for r in usa} == {i for i, s in sent.items() if s["country"] == "USA"}

    # the session as sent, with the ETL's fields recomputed here
    for record in usa + international:
        original = sent[record["session_id"]]
        assert {k: v for k, v in record.items() if k not in DERIVED} == original
        history = original["browse_history"]
        assert record["overall_product_quantity"] == sum(i["quantity"] for i in history)
        assert record["overall_in_shopping_cart"] == sum(
            i["quantity"] for i in history if i["in_shopping_cart"]
        )
        assert record["total_different_products"] == len(history)
        processed_at = datetime.fromisoformat(record["processing_timestamp"])
        assert started <= processed_at <= finished

    [lab_record] = [r for r in usa if r["session_id"] == "a1b2c3"]
    assert (
        lab_record["overall_product_quantity"],
        lab_record["overall_in_shopping_cart"],
        lab_record["total_different_products"],
    ) == (3, 2, 2)

    # files under firehose/<country>/yyyy/MM/dd/HH/, the hour of the run (UTC)
    assert any(p.startswith("firehose/usa/") for p in files)
    assert any(p.startswith("firehose/international/") for p in files)
    for path in files:
        match = HOUR_PATH.match(path)
        assert match, path
        when = tuple(int(part) for part in match.groups()[1:])
        assert hour(started) <= when <= hour(finished), path

    # the malformed event the ETL failed on: errors/etl/yyyy/MM/dd/HH/, with its raw text
    etl_errors = delivered(root, "errors/etl")
    assert all(re.match(r"^errors/etl/\d{4}/\d{2}/\d{2}/\d{2}/[^/]+$", p) for p in etl_errors)
    [etl_error] = [r for rows in etl_errors.values() for r in rows]
    assert etl_error["processor"] == "etl"
    assert etl_error["stream"] == "sessions"
    assert etl_error["error_type"] == "JSONDecodeError"
    assert etl_error["raw"] == "{bad"

    # the record the usa delivery could not parse: under errors/, with its raw text
    delivery_errors = {
        p: rows for p, rows in delivered(root, "errors").items() if not p.startswith("errors/etl/")
    }
    assert all(p.startswith("errors/usa_to_s3-") for p in delivery_errors), delivery_errors
    [delivery_error] = [r for rows in delivery_errors.values() for r in rows]
    assert delivery_error["delivery"] == "usa_to_s3"
    assert delivery_error["stream"] == "usa"
    assert delivery_error["error_type"] == "MalformedJSON"
    assert delivery_error["raw"] == '{"session_id": "x1"'
    assert delivery_error["raw_encoding"] == "text"

    # the same USA sessions in the Iceberg table, the bad record in its errors table
    table = json.loads(
        run(
            *CLI,
            "query",
            "SELECT session_id, overall_product_quantity, overall_in_shopping_cart, "
            "total_different_products FROM lab.usa_sessions",
            "--format",
            "json",
            cwd=lab,
        )
    )
    assert sorted(r["session_id"] for r in table) == sorted(r["session_id"] for r in usa)
    [in_table] = [r for r in table if r["session_id"] == "a1b2c3"]
    assert list(in_table.values())[1:] == [3, 2, 2]
    table_errors = json.loads(
        run(
            *CLI,
            "query",
            "SELECT error_type, raw FROM lab.usa_sessions__errors",
            "--format",
            "json",
            cwd=lab,
        )
    )
    assert table_errors == [{"error_type": "MalformedJSON", "raw": '{"session_id": "x1"'}]

    # delivering again finds nothing new: the same files, nothing written twice
    before = delivered(root, "")
    again = run(*CLI, "stream", "run", "--once", cwd=lab)
    assert "usa_to_s3: 0 records read" in again
    assert delivered(root, "") == before


def test_the_deliveries_take_the_buffer_and_url_from_variables(tmp_path: Path) -> None:
    """`s3_url` and `buffer_seconds` reach every files delivery; the lab's 1 MB / 60 s else."""
    project = load_project(EXAMPLE, environ={})
    deliveries = project.config.deliveries
    files = {n: d for n, d in deliveries.items() if d.files is not None}
    assert set(files) == {"usa_to_s3", "international_to_s3", "etl_errors_to_s3"}
    assert {(d.buffer.mb, d.buffer.seconds) for d in deliveries.values()} == {(1, 60)}
    assert {d.files.url for d in files.values() if d.files} == {"lake"}
    assert {n: d.errors_prefix for n, d in files.items()} == dict.fromkeys(files, "errors/")
    assert deliveries["usa_to_lake"].table == "lab.usa_sessions"

    changed = load_project(
        EXAMPLE, {"s3_url": "s3://my-bucket/lab", "buffer_seconds": "5"}, environ={}
    )
    assert {d.files.url for d in changed.config.deliveries.values() if d.files} == {
        "s3://my-bucket/lab"
    }
    assert {d.buffer.seconds for d in changed.config.deliveries.values()} == {5}
