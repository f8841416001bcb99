"""Pipeline runs over HTTP: POST queues a run the scheduler starts; GET shows it."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from headwater import Workspace
from headwater.web.app import create_app
from tests.orchestration_support import make_project
from tests.test_serve_support import serving


def test_post_queues_a_run_that_the_scheduler_starts(tmp_path: Path) -> None:
    mod = f"served_{uuid.uuid4().hex[:8]}"
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          hello:
            params: {{who: nobody}}
            tasks:
              - {{name: greet, python: "{mod}:greet"}}
        """,
        {mod: "def greet(ctx):\n    return f\"hello {ctx.params['who']} on {ctx.ds}\"\n"},
    )
    ws = Workspace.open(root)
    with serving(create_app(ws)) as url, httpx.Client(base_url=url) as client:
        answer = client.post(
            "/v1/pipelines/hello/runs",
            json={"conf": {"who": "api"}, "logical_date": "2024-03-01T00:00:00Z"},
        )
        assert answer.status_code == 202, answer.text
        queued = answer.json()
        assert queued["status"] == "queued" and queued["trigger"] == "manual"
        run_id = queued["run_id"]
        # no scheduler beats for this project yet: the reply says the run waits for one
        assert queued["note"] == (
            "no `headwater scheduler` runs for this project: the run stays queued until one "
            f"starts, or until `headwater run --resume {run_id[:8]}` runs it"
        )
        scheduler = Workspace.open(root).scheduler()  # a scheduler elsewhere picks it up
        scheduler.tick()
        for thread in list(scheduler.running.values()):
            thread.join(timeout=30)
        shown = client.get(f"/v1/runs/{run_id[:8]}").json()
        assert shown["status"] == "success"
        assert shown["tasks"][0]["value"] == "hello api on 2024-03-01"
        listed = client.get("/v1/pipelines/hello/runs").json()
        assert [r["run_id"] for r in listed] == [run_id]
        assert listed[0]["note"] is None
        again = client.post("/v1/pipelines/hello/runs", json={}).json()
        assert again["note"] is None  # the scheduler above has beaten its heartbeat
        missing = client.post("/v1/pipelines/helo/runs", json={})
        assert missing.status_code == 404
        assert "did you mean `hello`" in missing.json()["error"]["message"]
        assert client.get("/v1/runs/ffffffff").status_code == 404
    ws.close()
