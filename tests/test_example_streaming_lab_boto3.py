"""The streaming lab driven by the lab's own boto3 producer and consumer
(examples/streaming_lab/kinesis_scripts/) against `headwater serve` in a subprocess, in a copy of the
example: every session once in `usa` or `international`, enriched as the lab does it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater import Workspace
from headwater.streams.records import TRIM_HORIZON, Position

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "streaming_lab"
TOKEN = "lab-token"
SESSIONS = 300
TOKEN_VARIABLE = "  api_token: {sensitive: true}\n"
SERVE = """
serve:
  tokens: ["${var.api_token}"]
"""
DERIVED = (
    "processing_timestamp",
    "overall_product_quantity",
    "overall_in_shopping_cart",
    "total_different_products",
)


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    """A copy of the example whose server asks for ``TOKEN``."""
    lab = tmp_path / "lab"
    shutil.copytree(EXAMPLE, lab, ignore=shutil.ignore_patterns(".headwater", "__pycache__"))
    config = lab / "headwater.yaml"
    text = config.read_text()
    assert "\nvariables:\n" in text
    config.write_text(text.replace("\nvariables:\n", "\nvariables:\n" + TOKEN_VARIABLE, 1) + SERVE)
    return lab


@pytest.fixture
def endpoint(lab: Path) -> Iterator[str]:
    """`headwater serve` in the copy, on a free port, until the test ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    headwater = str(Path(sys.executable).with_name("headwater"))
    env = {**os.environ, "HEADWATER_VAR_API_TOKEN": TOKEN}
    command = [headwater, "serve", "-p", str(lab), "--port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/v1/tables", headers={"Authorization": f"Bearer {TOKEN}"})
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "headwater serve did not answer in 60 s"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "Traceback" not in stderr


def script(
    lab: Path, name: str, *args: str, endpoint: str, key: str = TOKEN
) -> subprocess.CompletedProcess[str]:
    """Run kinesis_scripts/<name> as a user would, with the endpoint and the token in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        KINESIS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=key,
        AWS_SECRET_ACCESS_KEY="unused",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    command = [sys.executable, str(Path("kinesis_scripts") / name), *args]
    return subprocess.run(
        command, cwd=lab, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def generated(lab: Path, *args: str) -> list[dict[str, Any]]:
    """The sessions generate.py makes with ``args``, as JSON lines."""
    command = [sys.executable, "generate.py", *args, "--stdout"]
    result = subprocess.run(command, cwd=lab, capture_output=True, text=True, check=False)
    return [json.loads(line) for line in ok(result).splitlines()]


def read_all(ws: Workspace, stream: str) -> list[dict[str, Any]]:
    """Every record of ``stream``, shard after shard, from its oldest."""
    records: list[dict[str, Any]] = []
    for shard in ws.streams.shards(stream):
        position: Position = TRIM_HORIZON
        while True:
            batch = ws.streams.read(stream, shard, position, limit=1000)
            records.extend(json.loads(r.data) for r in batch.records)
            position = batch.next
            if not batch.records and batch.behind_ms == 0:
                break
    return records


def test_the_labs_boto3_scripts_through_the_kinesis_api(lab: Path, endpoint: str) -> None:
    # what the producer sends: the generator's sessions (same seed), then the lab's record
    sent = generated(lab, "--count", str(SESSIONS)) + generated(lab, "--example")
    assert sent[-1]["session_id"] == "a1b2c3"

    produced = ok(
        script(lab, "producer.py", "--create", "--count", str(SESSIONS), endpoint=endpoint)
    )
    assert "created stream sessions with 2 shards" in produced
    assert f"put {SESSIONS} records into sessions" in produced
    assert "put 1 record into sessions" in ok(
        script(lab, "producer.py", "--example", endpoint=endpoint)
    )

    refused = script(lab, "consumer.py", "--once", endpoint=endpoint, key="not-the-token")
    assert refused.returncode != 0
    assert "UnrecognizedClientException" in refused.stderr

    consumed = ok(script(lab, "consumer.py", "--create", "--once", endpoint=endpoint))
    usa_count = sum(1 for s in sent if s["country"] == "USA")
    assert (
        f"processed {SESSIONS + 1} records from sessions: "
        f"usa {usa_count}, international {SESSIONS + 1 - usa_count}"
    ) in consumed

    with Workspace.open(lab, {"api_token": TOKEN}) as ws:
        assert len(ws.streams.shards("sessions")) == 2
        usa, international = read_all(ws, "usa"), read_all(ws, "international")

    assert {s["country"] for s in usa} == {"USA"}
    assert "USA" not in {s["country"] for s in international}
    received = usa + international
    ids = [s["session_id"] for s in received]
    assert len(ids) == len(set(ids)) == len(sent)  # every session once
    by_id = {s["session_id"]: s for s in received}
    for original in sent:
        session = by_id[original["session_id"]]
        assert {k: v for k, v in session.items() if k not in DERIVED} == original
        history = original["browse_history"]
        assert session["overall_product_quantity"] == sum(i["quantity"] for i in history)
        assert session["overall_in_shopping_cart"] == sum(
            i["quantity"] for i in history if i["in_shopping_cart"]
        )
        assert session["total_different_products"] == len(history)
        assert datetime.fromisoformat(session["processing_timestamp"]).tzinfo is not None

    [lab_record] = [s for s in usa if s["session_id"] == "a1b2c3"]
    assert lab_record["overall_product_quantity"] == 3
    assert lab_record["overall_in_shopping_cart"] == 2
    assert lab_record["total_different_products"] == 2
