"""Tasks other than ``@task`` functions, for use inside a ``@pipeline`` function.

For example ``loaded = tasks.ingest("classicmodels")`` then ``tasks.models("gold",
after=loaded)``; see docs/orchestration.md.
"""

from headwater.orchestrate.define import (
    check,
    deliver,
    feed,
    group,
    ingest,
    models,
    process,
    run_pipeline,
    sensor,
    shell,
)

__all__ = [
    "check",
    "deliver",
    "feed",
    "group",
    "ingest",
    "models",
    "process",
    "run_pipeline",
    "sensor",
    "shell",
]
