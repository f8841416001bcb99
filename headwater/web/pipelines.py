"""Pipeline runs over HTTP: ``POST /v1/pipelines/{name}/runs`` queues a run for the scheduler
(an event trigger from any system that can send a request), ``GET`` lists runs and one run."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from headwater.errors import ProjectError, StateError
from headwater.state.records import RunRecord
from headwater.web.deps import Ws
from headwater.web.errors import RESPONSES, ApiError, ErrorResponse
from headwater.workspace import Workspace

router = APIRouter(tags=["pipelines"])


Name = Annotated[str, Path(description="a pipeline of the project", examples=["simple_dag"])]


class RunRequest(BaseModel):
    conf: dict[str, Any] = Field(
        default_factory=dict, description="overrides the pipeline's params"
    )
    logical_date: datetime | None = Field(default=None, description="the run's logical date")


class TaskState(BaseModel):
    task_id: str
    kind: str
    status: str
    attempts: int
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    value: Any


class RunState(BaseModel):
    run_id: str
    pipeline: str
    status: str = Field(description="queued, running, success, failed or cancelled")
    trigger: str
    logical_date: datetime | None
    started_at: datetime
    ended_at: datetime | None
    error: str | None
    conf: dict[str, Any] | None
    tasks: list[TaskState]
    note: str | None = Field(
        default=None, description="what happens next, when it is not what one would expect"
    )


def _state(record: RunRecord) -> RunState:
    return RunState(
        run_id=record.run_id,
        pipeline=record.pipeline,
        status=record.status.value,
        trigger=record.trigger,
        logical_date=record.logical_date,
        started_at=record.started_at,
        ended_at=record.ended_at,
        error=record.error,
        conf=record.conf,
        tasks=[
            TaskState(
                task_id=t.task_id,
                kind=t.kind,
                status=t.status.value,
                attempts=t.attempts,
                started_at=t.started_at,
                ended_at=t.ended_at,
                error=t.error,
                value=t.value,
            )
            for t in record.tasks
        ],
    )


def _known(ws: Workspace, name: str) -> None:
    try:
        ws.definition(name)
    except ProjectError as exc:
        raise ApiError(404, "NoSuchPipelineException", exc.message, exc.hint) from None


@router.post(
    "/v1/pipelines/{name}/runs",
    status_code=202,
    response_model=RunState,
    responses={**RESPONSES, 404: {"model": ErrorResponse, "description": "No such pipeline"}},
)
def trigger_run(ws: Ws, name: Name, body: RunRequest | None = None) -> RunState:
    """Queue a run; a running `headwater scheduler` starts it within a second (without one,
    the reply's `note` says so)."""
    _known(ws, name)
    request = body or RunRequest()
    run_id = ws.trigger(name, request.conf or None, request.logical_date)
    state = _state(ws.store.run(run_id))
    if not ws.store.schedulers_alive():
        state.note = (
            "no `headwater scheduler` runs for this project: the run stays queued until one "
            f"starts, or until `headwater run --resume {run_id[:8]}` runs it"
        )
    return state


@router.get("/v1/pipelines/{name}/runs", response_model=list[RunState], responses=RESPONSES)
def list_runs(ws: Ws, name: Name, limit: int = 20) -> list[RunState]:
    """The pipeline's recent runs, newest first."""
    _known(ws, name)
    return [_state(r) for r in ws.runs(name, limit)]


@router.get(
    "/v1/runs/{run_id}",
    response_model=RunState,
    responses={**RESPONSES, 404: {"model": ErrorResponse, "description": "No such run"}},
)
def show_run(ws: Ws, run_id: str) -> RunState:
    """One run and its tasks (an id or its first 8 characters)."""
    try:
        return _state(ws.store.run(ws.resolve_run(run_id)))
    except StateError as exc:
        raise ApiError(404, "NoSuchRunException", exc.message, exc.hint) from None
