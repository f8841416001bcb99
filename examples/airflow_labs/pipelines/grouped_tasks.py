"""The grouped-tasks lab: extract → clean → notify for three tables, one task group each."""

from __future__ import annotations

from labs.tables import clean, extract, notify

from headwater import pipeline, tasks

TABLES = ("payments", "customers", "products")


@pipeline(
    description="Each table to bronze and silver, in its own group (payments.extract, …).",
    schedule="@daily",
    start_date="2024-01-01",
    catchup=False,
)
def grouped_tasks() -> None:
    for table in TABLES:
        with tasks.group(table):
            # each call takes the previous task's value: the bronze file, then the count
            notify(table, clean(extract(table, ds="{{ ds }}")))
