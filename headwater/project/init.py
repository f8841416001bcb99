"""``headwater init``: a starter project that runs as soon as it is created."""

from __future__ import annotations

from pathlib import Path

from headwater.errors import ProjectError

PROJECT = """\
# A Headwater project. Reference: `headwater guide project-file`
name: {name}

variables:
  source_url:
    description: SQLAlchemy URL of the source database (a relative sqlite path is relative to this folder)
    default: sqlite:///.headwater/sample.db

connections:
  source:
    type: sql
    url: ${{var.source_url}}

sources:
  source:
    connection: source
    namespace: raw
    tables: [customers, orders, orderdetails, products, productlines, employees, offices, payments]

pipelines:
  main:
    tasks:
      - ingest: source
      - models: gold
"""

MODEL = """\
-- Models are SELECTs over catalog tables (namespace.name); this one builds gold.orders_per_customer.
SELECT
    c.customerNumber,
    c.customerName,
    count(o.orderNumber) AS orders
FROM raw.customers AS c
LEFT JOIN raw.orders AS o USING (customerNumber)
GROUP BY ALL
"""


def init_project(folder: Path) -> list[Path]:
    """Write a starter project into ``folder``; refuses to overwrite an existing project."""
    folder = folder.expanduser().resolve()
    if (folder / "headwater.yaml").exists():
        raise ProjectError(
            f"{folder / 'headwater.yaml'} already exists",
            hint="choose another folder, or edit the existing project",
        )
    name = "".join(c if c.isalnum() else "_" for c in folder.name).strip("_") or "project"
    files = {
        folder / "headwater.yaml": PROJECT.format(name=name),
        folder / "models" / "gold" / "orders_per_customer.sql": MODEL,
        folder / ".gitignore": ".headwater/\n",
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
