"""Build a model's table: run its SELECT in DuckDB and publish the result in one commit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from headwater.errors import HeadwaterError, ModelError
from headwater.lake import Lake, WriteResult
from headwater.lake.writer import Audit, replace_table_by_copy
from headwater.sql.models import Model
from headwater.sql.session import Session, model_error

# Compressed size of the files DuckDB writes for a model.
MODEL_FILE_BYTES = 128 << 20


def build_model(
    lake: Lake,
    root: Path,
    model: Model,
    props: Mapping[str, str],
    on_rows: Callable[[int], None] | None,
    audit: Audit | None = None,
) -> WriteResult:
    """Run a model in DuckDB and replace its table with the result, in one commit.

    DuckDB writes the files itself when Iceberg can store its result types as they are
    (nearly always); otherwise the result streams through Arrow and is converted.
    """
    name = model.name
    shown = model.display_path(root)
    with Session(lake) as session:
        session.map_tables(r.name for r in model.references)
        schema = session.schema_of(model.sql, shown)
        try:
            return replace_table_by_copy(
                lake,
                name,
                schema,
                lambda folder, prefix: session.copy(model.sql, folder, prefix, MODEL_FILE_BYTES),
                lambda: session.run_model(model.sql, [], shown),
                props,
                on_rows,
                audit,
                replace_schema=True,  # the table is what the SELECT makes of it, every build
            )
        except HeadwaterError:
            raise
        except Exception as exc:
            import duckdb

            if isinstance(exc, duckdb.Error):
                raise model_error(exc, shown) from exc
            raise ModelError(f"writing the result failed: {exc}", file=shown) from exc
