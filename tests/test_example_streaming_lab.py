"""The streaming lab example end to end through its README's commands, in a copy: generated
sessions and the lab's example record in, the enriched sessions out in `usa` and
`international`, with the lab's figures."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "streaming_lab"
CLI = [sys.executable, "-c", "from headwater.cli.app import main; main()"]
SESSIONS = 3000


def run(*args: str, cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def tail(stream: str, cwd: Path) -> list[dict[str, Any]]:
    out = run(*CLI, "stream", "tail", stream, "--limit", "100000", cwd=cwd)
    return [json.loads(line)["data"] for line in out.splitlines()]


def sql_variant(text: str) -> str:
    """The headwater.yaml with the commented SQL transform in place of the Python one."""
    lines = []
    for line in text.splitlines():
        if line.strip().startswith("python: processors/"):
            continue
        if re.match(r"    # (sql:|  )", line):
            line = "    " + line[6:]
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@pytest.mark.parametrize("transform", ["python", "sql"])
def test_the_lab_flow_gives_the_lab_figures(tmp_path: Path, transform: str) -> None:
    lab = tmp_path / "lab"
    shutil.copytree(EXAMPLE, lab, ignore=shutil.ignore_patterns(".headwater", "lake"))
    if transform == "sql":
        config = lab / "headwater.yaml"
        config.write_text(sql_variant(config.read_text()))
        assert "python: processors/" not in config.read_text()
    python = sys.executable
    assert "put 1 event into sessions" in run(python, "generate.py", "--example", cwd=lab)
    put = run(python, "generate.py", "--count", str(SESSIONS), "--rate", "0", cwd=lab)
    assert f"put {SESSIONS:,} events into sessions" in put
    summary = run(*CLI, "stream", "process", "--once", cwd=lab)
    assert f"etl: {SESSIONS + 1:,} records from sessions" in summary

    usa, international = tail("usa", lab), tail("international", lab)
    assert len(usa) + len(international) == SESSIONS + 1
    assert {s["country"] for s in usa} == {"USA"}
    assert "USA" not in {s["country"] for s in international}
    ids = [s["session_id"] for s in usa + international]
    assert len(set(ids)) == len(ids)

    [example] = [s for s in usa if s["session_id"] == "a1b2c3"]
    assert example["overall_product_quantity"] == 3
    assert example["overall_in_shopping_cart"] == 2
    assert example["total_different_products"] == 2
    assert example["processing_timestamp"]
    for session in usa + international:
        history = session["browse_history"]
        assert session["overall_product_quantity"] == sum(i["quantity"] for i in history)
        assert session["overall_in_shopping_cart"] == sum(
            i["quantity"] for i in history if i["in_shopping_cart"]
        )
        assert session["total_different_products"] == len(history)


def test_the_generator_prints_the_lab_record_for_stream_put(tmp_path: Path) -> None:
    out = run(sys.executable, str(EXAMPLE / "generate.py"), "--example", "--stdout", cwd=tmp_path)
    record = json.loads(out)
    assert record["session_id"] == "a1b2c3" and record["country"] == "USA"
    quantities = [(i["quantity"], i["in_shopping_cart"]) for i in record["browse_history"]]
    assert quantities == [(1, False), (2, True)]
