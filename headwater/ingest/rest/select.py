"""Pick values out of a JSON body by path: the record list, a total, a cursor, a next URL.

A path is dotted, optionally JSONPath-style: ``albums.items``, ``$.data[0].items``,
``meta.paging.next``.
"""

from __future__ import annotations

import re
from typing import Any

from headwater.errors import SourceError

MISSING: Any = object()
_INDEX = re.compile(r"\[(\d+)\]")


def parse(path: str) -> list[str | int]:
    """``$.data[0].items`` → ``["data", 0, "items"]``."""
    text = path.strip()
    text = text[1:] if text.startswith("$") else text
    parts: list[str | int] = []
    for piece in _INDEX.sub(r".\1.", text).split("."):
        if piece:
            parts.append(int(piece) if piece.isdigit() else piece)
    return parts


def _step(node: Any, part: str | int) -> Any:
    if isinstance(part, int) and isinstance(node, list) and part < len(node):
        return node[part]
    if isinstance(node, dict) and str(part) in node:
        return node[str(part)]
    return MISSING


def find(body: Any, path: str) -> Any:
    """The value at ``path``, or ``MISSING`` when a step does not exist."""
    node = body
    for part in parse(path):
        node = _step(node, part)
        if node is MISSING:
            break
    return node


def _deepest(body: Any, path: str) -> tuple[str, Any]:
    """The longest prefix of ``path`` that exists, and the value there (for error messages)."""
    node, walked = body, []
    for part in parse(path):
        nxt = _step(node, part)
        if nxt is MISSING:
            break
        node = nxt
        walked.append(str(part))
    return (f"`{'.'.join(walked)}`" if walked else "the body"), node


def _keys(node: Any) -> str:
    if isinstance(node, dict):
        return f"has keys {', '.join(map(str, node)) or '(none)'}"
    if isinstance(node, list):
        return f"is a list of {len(node)}"
    return f"is {type(node).__name__} {node!r:.60}"


def require(body: Any, path: str, what: str, where: str) -> Any:
    """The value at ``path``; a SourceError naming the keys that do exist when it is absent."""
    value = find(body, path)
    if value is MISSING:
        walked, node = _deepest(body, path)
        raise SourceError(
            f"{what} path `{path}` selects nothing in the response of {where}: "
            f"{walked} {_keys(node)}",
            hint=f"fix `{what}` in the table's config",
        )
    return value


def records(body: Any, path: str | None, where: str) -> list[dict[str, Any]]:
    """The records of a page: at ``path``, else the body if a list, else its first list field.

    Scalars in the list become ``{"value": x}`` records; a single object is one record.
    """
    found = require(body, path, "records", where) if path else _default(body)
    if found is None:
        return []
    if isinstance(found, dict):
        return [found]
    if not isinstance(found, list):
        raise SourceError(
            f"records path `{path}` in the response of {where} is {type(found).__name__} "
            f"{found!r:.60}, not a list of records",
            hint="point `records` at a list of objects",
        )
    return [item if isinstance(item, dict) else {"value": item} for item in found]


def _default(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    for value in body.values():
        if isinstance(value, list):
            return value
    # one level down, for envelopes like {"albums": {"items": [...], "total": 120}}
    for value in body.values():
        if isinstance(value, dict):
            for inner in value.values():
                if isinstance(inner, list):
                    return inner
    return body
