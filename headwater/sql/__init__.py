"""SQL over the lake: DuckDB sessions over catalog tables, SQL models and their graph.

Names are imported on first use: planning a pipeline needs the model graph, not the lake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.lazy import exports

if TYPE_CHECKING:
    from headwater.sql.graph import ModelGraph
    from headwater.sql.models import Model, TableRef, discover_models, parse_model
    from headwater.sql.session import Session

_WHERE = {
    "ModelGraph": "headwater.sql.graph",
    "Model": "headwater.sql.models",
    "TableRef": "headwater.sql.models",
    "discover_models": "headwater.sql.models",
    "parse_model": "headwater.sql.models",
    "Session": "headwater.sql.session",
}


__getattr__ = exports("headwater.sql", _WHERE)


__all__ = ["Model", "ModelGraph", "Session", "TableRef", "discover_models", "parse_model"]
