"""SQL over the lake: DuckDB sessions over catalog tables, SQL models and their graph."""

from headwater.sql.graph import ModelGraph
from headwater.sql.models import Model, TableRef, discover_models, parse_model
from headwater.sql.session import Session

__all__ = ["Model", "ModelGraph", "Session", "TableRef", "discover_models", "parse_model"]
