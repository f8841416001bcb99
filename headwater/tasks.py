"""Tasks other than ``@task`` functions, for use inside a ``@pipeline`` function.

For example ``loaded = tasks.ingest("classicmodels")`` then ``tasks.models("gold",
after=loaded)``; see docs/orchestration.md.
"""

from headwater.orchestrate.define import (
    check,
    group,
    ingest,
    models,
    run_pipeline,
    sensor,
    shell,
)

__all__ = ["check", "group", "ingest", "models", "run_pipeline", "sensor", "shell"]
