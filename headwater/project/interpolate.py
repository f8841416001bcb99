"""Replace ``${var.name}`` and ``${env:NAME}`` in every string of a parsed project file.

A string that is exactly one reference takes the referenced value with its type (so
``port: ${var.port}`` stays an integer); ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from headwater.errors import ProjectFileError, did_you_mean
from headwater.project.positions import Document, Path

REFERENCE = re.compile(r"(?<!\$)\$\{\s*(var\.|env:)([A-Za-z_][A-Za-z0-9_]*)\s*\}")


def interpolate(
    doc: Document, file: str, variables: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Any:
    """Return a copy of ``doc.data`` with every reference replaced."""
    env = os.environ if environ is None else environ

    def value_of(kind: str, name: str, path: Path) -> Any:
        if kind == "env:":
            if name not in env:
                raise ProjectFileError(
                    f"environment variable `{name}` is not set",
                    file=file,
                    line=doc.line_of(path),
                    key=_dotted(path),
                    hint=f"export {name}=... before running",
                )
            return env[name]
        if name not in variables:
            raise ProjectFileError(
                f"unknown variable `{name}`{did_you_mean(name, variables)}",
                file=file,
                line=doc.line_of(path),
                key=_dotted(path),
                hint="declare it under `variables:` with a default",
            )
        value = variables[name]
        if value is None:
            raise ProjectFileError(
                f"variable `{name}` has no value",
                file=file,
                line=doc.line_of(path),
                key=_dotted(path),
                hint=f"pass --var {name}=VALUE or set {'HEADWATER_VAR_' + name.upper()}",
            )
        return value

    def walk(node: Any, path: Path) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, (*path, str(k))) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*path, i)) for i, v in enumerate(node)]
        if not isinstance(node, str):
            return node
        whole = REFERENCE.fullmatch(node.strip())
        if whole:
            return value_of(whole.group(1), whole.group(2), path)
        replaced = REFERENCE.sub(lambda m: str(value_of(m.group(1), m.group(2), path)), node)
        return replaced.replace("$${", "${")

    return walk(doc.data, ())


def _dotted(path: Path) -> str:
    return ".".join(str(p) for p in path)
