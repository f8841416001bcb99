"""SQL models: ``models/<namespace>/<name>.sql`` holds a SELECT that builds ``namespace.name``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from headwater.errors import ModelError
from headwater.project.base import IDENTIFIER
from headwater.project.positions import read_text
from headwater.sql.references import TableRef, is_query, parse_select, table_references

__all__ = ["Model", "TableRef", "discover_models", "parse_model"]


@dataclass(frozen=True)
class Model:
    """One model: its table name, file, SQL and the tables it reads."""

    name: str
    path: Path
    sql: str
    references: tuple[TableRef, ...]

    @property
    def namespace(self) -> str:
        return self.name.split(".")[0]

    def display_path(self, root: Path | None = None) -> str:
        if root is not None and self.path.is_relative_to(root):
            return str(self.path.relative_to(root))
        return str(self.path)


def discover_models(folder: Path, root: Path | None = None) -> list[Model]:
    """Every ``*.sql`` one level under ``folder``; the folder names are namespaces."""
    if not folder.is_dir():
        return []
    misplaced = sorted(p for p in folder.rglob("*.sql") if p.parent.parent != folder)
    if misplaced:
        shown = (
            str(misplaced[0].relative_to(root))
            if root and misplaced[0].is_relative_to(root)
            else str(misplaced[0])
        )
        raise ModelError(
            "a model file must sit in a namespace folder directly under the models folder",
            file=shown,
            hint=f"move it to {folder.name}/<namespace>/{misplaced[0].name}, e.g. {folder.name}/gold/{misplaced[0].name}",
        )
    models = []
    for path in sorted(folder.glob("*/*.sql")):
        namespace, name = path.parent.name, path.stem
        shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
        for part, what in ((namespace, "namespace folder"), (name, "model file name")):
            if not IDENTIFIER.match(part):
                raise ModelError(
                    f"{what} `{part}` is not a valid table name part",
                    file=shown,
                    hint="use letters, digits and underscores, e.g. models/gold/dim_customers.sql",
                )
        models.append(parse_model(f"{namespace}.{name}", path, shown))
    return models


def parse_model(name: str, path: Path, shown: str | None = None) -> Model:
    """Read and parse one model file; syntax errors point at the file and line."""
    shown = shown or str(path)
    # leading lines are kept so that line numbers in errors match the file
    sql = read_text(path).rstrip().rstrip(";").rstrip()
    if not sql.strip():
        raise ModelError("the model is empty", file=shown, hint="write one SELECT statement")
    import sqlglot

    try:
        statements = sqlglot.parse(sql, read="duckdb")
        tree = parse_select(sql)
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise ModelError(
            f"SQL syntax error: {first.get('description', exc)}",
            file=shown,
            line=first.get("line"),
            hint="fix the SQL; `headwater query` runs a SELECT interactively",
        ) from None
    except sqlglot.errors.TokenError as exc:  # an unclosed quote, before any parsing
        cause = str(exc.__cause__ or exc)
        # sqlglot says "Missing <quote> from <line where it gave up>:<offset of the quote>"
        unclosed = re.search(r"Missing (.+) from \d+:(\d+)", cause)
        raise ModelError(
            f"SQL syntax error: a {unclosed[1]} is opened and never closed"
            if unclosed
            else f"SQL syntax error: {cause}",
            file=shown,
            line=sql[: int(unclosed[2])].count("\n") + 1 if unclosed else None,
            hint="close the quote; `headwater query` runs a SELECT interactively",
        ) from None
    except RecursionError as exc:  # the parser recurses once per nesting level
        raise ModelError(
            "the SQL nests too deeply to be read (parentheses or subqueries inside one "
            "another, hundreds of levels)",
            file=shown,
            hint="write it with fewer levels, e.g. with a WITH clause",
        ) from exc
    if len([s for s in statements if s is not None]) != 1 or not is_query(tree):
        raise ModelError(
            "a model must be exactly one SELECT statement",
            file=shown,
            hint="Headwater writes the table itself; remove CREATE/INSERT and extra statements",
        )
    return Model(name=name, path=path, sql=sql, references=tuple(table_references(tree)))
