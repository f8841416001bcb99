"""A project's models, checked against the tables the project can produce."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from headwater.sql.graph import ModelGraph
from headwater.sql.models import Model, discover_models

if TYPE_CHECKING:
    from headwater.lake import Lake
    from headwater.project import Project


def project_models(project: Project, lake: Callable[[], Lake]) -> ModelGraph:
    """Every model of ``project``, its references checked against the tables the project's
    sources, deliveries, models and crawls build, and (only when a model reads another) the catalog's:
    ``lake`` is asked for then."""
    cfg = project.config
    models = discover_models(project.path(cfg.models.path), project.root)
    crawled = _crawled_namespaces(cfg.pipelines.values())
    known = {f"{s.namespace}.{t.name}" for s in cfg.sources.values() for t in s.tables}
    for delivery in cfg.deliveries.values():  # a stream's delivery writes its table too
        known |= {t for t in (delivery.table, delivery.errors_table) if t is not None}
    if _reads_unbuilt_tables(models, known, crawled):
        # only the catalog can say whether such a table exists
        opened = lake()
        known |= set(opened.tables()) | set(opened.external.names())
    return ModelGraph.build(models, known, project.root, crawled)


def _reads_unbuilt_tables(models: list[Model], produced: set[str], crawled: set[str]) -> bool:
    """Whether a model reads a table that no source (``produced``), model or crawl of the
    project builds: planning a project that builds all it reads never opens the catalog."""
    built = produced | {m.name for m in models}
    return any(
        ref.name not in built and ref.name.split(".")[0] not in crawled
        for model in models
        for ref in model.references
    )


def _crawled_namespaces(pipelines: Iterable[Any]) -> set[str]:
    """Namespaces that crawl steps fill: their tables are known only once the crawl runs."""
    from headwater.project.pipelines import CrawlStep, GroupStep

    found: set[str] = set()
    steps = [step for p in pipelines for step in p.tasks]
    while steps:
        step = steps.pop()
        if isinstance(step, GroupStep):
            steps.extend(step.tasks)
        elif isinstance(step, CrawlStep):
            found.add(step.namespace)
    return found
