"""The first labs' tasks: extract a table to bronze, clean it to silver, report the count.

Used by ``simple_dag`` (headwater.yaml, ``python: labs.tables:extract``) and by
``grouped_tasks`` (pipelines/grouped_tasks.py) alike.
"""

from __future__ import annotations

from headwater import TaskContext, task
from headwater.orchestrate.task import TaskOutcome
from labs import common


@task
def extract(table: str, ds: str | None, ctx: TaskContext) -> TaskOutcome:
    """Copy ``table`` from the source to ``bronze/YYYY/MM/DD/<table>.csv``; the value is
    the file, for the clean task."""
    target = common.dated(ctx, "bronze", ds, table)
    engine = common.source(ctx)
    try:
        rows = common.export_table(engine, table, target)
    finally:
        engine.dispose()
    ctx.log.info(f"extracted {rows} rows of {table} to {target}")
    return TaskOutcome(rows=rows, value=common.shown(ctx, target))


@task
def clean(bronze: str, ctx: TaskContext) -> int:
    """Drop rows with nulls and duplicate rows from a bronze file into the same place under
    ``silver/``; the value is the number of valid records."""
    source = common.located(ctx, bronze)
    layer = common.data_dir(ctx)
    target = layer / "silver" / source.relative_to(layer / "bronze")
    kept = common.clean_csv(source, target)
    ctx.log.info(f"kept {kept} valid rows of {source.name} in {target}")
    return kept


@task
def notify(table: str, count: int) -> None:
    """Report how many valid records the table has (the lab's notification)."""
    print(f"Number of valid records in table {table}: {count}")
