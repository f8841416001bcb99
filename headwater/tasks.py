"""Tasks other than ``@task`` functions, for use inside a ``@pipeline`` function::

    from headwater import pipeline, tasks

    @pipeline(schedule="@daily")
    def nightly():
        loaded = tasks.ingest("classicmodels")
        built = tasks.models("gold", after=loaded)
        tasks.check("gold", after=built)
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
