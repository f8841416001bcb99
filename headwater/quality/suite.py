"""Check suites: ``checks/<suite>.yaml`` files (and ``checks:`` in headwater.yaml), each a
mapping of table name to its list of checks::

    # checks/gold.yaml
    gold.fact_orders:
      - not_null: orderNumber
      - between: {column: quantityOrdered, min: 1}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from headwater.errors import ProjectFileError
from headwater.project.positions import parse_yaml, read_text
from headwater.quality import rules as r
from headwater.quality.entries import parse

INLINE = "project"  # the suite of checks written in headwater.yaml itself


@dataclass(frozen=True)
class Suite:
    """Checks per table, from one file."""

    name: str
    file: str
    tables: Mapping[str, tuple[r.Rule, ...]]


def load_suites(
    folder: Path, inline: Mapping[str, Any] | None, project_file: str
) -> dict[str, Suite]:
    """Every suite of the project: one per ``*.yaml`` in ``folder``, plus the inline one."""
    suites: dict[str, Suite] = {}
    if inline:
        suites[INLINE] = _suite(INLINE, project_file, inline, None, ("checks",))

    def taken(name: str, path: Path) -> None:
        if name in suites:
            where = project_file if name == INLINE else f"{folder / name}.py"
            raise ProjectFileError(
                f"suite `{name}` is defined twice: in {where} and in {path}",
                file=str(path),
                line=1,
                hint="rename one of the files (a suite is named after its file; "
                f"`{INLINE}` is the project file's own `checks:`)",
            )

    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        taken(path.stem, path)
        suites[path.stem] = _python_suite(path)
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        taken(path.stem, path)
        doc = parse_yaml(read_text(path), str(path))
        data = doc.data or {}
        if not isinstance(data, dict):
            raise ProjectFileError(
                "a checks file is a mapping of table name to a list of checks",
                file=str(path),
                line=1,
                hint="see `headwater guide quality`",
            )
        suites[path.stem] = _suite(path.stem, str(path), data, doc, ())
    return suites


def _python_suite(path: Path) -> Suite:
    """A ``checks/<suite>.py`` module's ``CHECKS``: table → checks (rules or YAML-like dicts)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"headwater_checks_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ProjectFileError(f"cannot load {path}", file=str(path), line=1)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module: say where it broke
        raise ProjectFileError(
            f"{type(exc).__name__}: {exc}",
            file=str(path),
            line=getattr(exc, "lineno", None),
            hint="fix the module; it must define CHECKS = {table: [checks]}",
        ) from exc
    checks = getattr(module, "CHECKS", None)
    if not isinstance(checks, Mapping):
        raise ProjectFileError(
            "a Python check suite defines CHECKS = {table: [checks]}",
            file=str(path),
            line=1,
            hint="build the checks with `from headwater import checks`, e.g. checks.not_null('id')",
        )
    tables: dict[str, list[Any]] = {
        table: [c.model_dump() if isinstance(c, r.Rule) else c for c in entries]
        for table, entries in checks.items()
    }
    return _suite(path.stem, str(path), tables, None, ())


def _suite(name: str, file: str, data: Mapping[str, Any], doc: Any, at: tuple[Any, ...]) -> Suite:
    tables: dict[str, tuple[r.Rule, ...]] = {}
    for table, entries in data.items():
        if not isinstance(entries, list):
            raise ProjectFileError(
                f"`{table}`: expected a list of checks",
                file=file,
                line=doc.line_of((*at, table)) if doc else None,
                hint="write each check as `- not_null: column`",
            )
        parsed = []
        for index, entry in enumerate(entries):
            try:
                parsed.append(parse(entry))
            except (ValidationError, ValueError) as exc:
                raise ProjectFileError(
                    f"{table}[{index}]: {_message(exc)}",
                    file=file,
                    line=doc.line_of((*at, table, index)) if doc else None,
                    hint="`headwater guide quality the-checks` lists every check and its arguments",
                ) from None
        names = [c.label for c in parsed]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ProjectFileError(
                f"`{table}` has more than one check named {', '.join(twice)}",
                file=file,
                line=doc.line_of((*at, table)) if doc else None,
                hint="give one of them a `name:`; results are kept by name",
            )
        tables[str(table)] = tuple(parsed)
    return Suite(name, file, tables)


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"][1:])
            text = str(error["msg"]).removeprefix("Value error, ")
            parts.append(f"{where}: {text}" if where else text)
        return "; ".join(parts)
    return str(exc)
