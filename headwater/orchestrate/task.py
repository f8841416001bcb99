"""Task definitions (immutable, built once from the project) and what running one yields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from headwater.sql.models import Model

TaskKind = Literal["ingest", "model"]


@dataclass(frozen=True)
class IngestSpec:
    source: str
    table: str  # the source-table entry's name


@dataclass(frozen=True)
class ModelSpec:
    model: Model  # parsed once, when the pipeline is planned

    @property
    def name(self) -> str:
        return self.model.name


@dataclass(frozen=True)
class Task:
    """One unit of work: ``id`` is unique in its pipeline, ``target`` the table it writes."""

    id: str
    kind: TaskKind
    target: str | None
    spec: IngestSpec | ModelSpec
    depends_on: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class TaskOutcome:
    """What a successful task reports."""

    rows: int = 0
    bytes: int = 0
    snapshot_id: int | None = None
    details: Mapping[str, Any] | None = None  # what the task did, for the run history
