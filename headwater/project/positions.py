"""Parse YAML keeping the line of every key and item, so errors can point at file:line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from headwater.errors import ProjectFileError

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Document:
    """The parsed data and the 1-based line of each path in it."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """Line of the longest prefix of ``path`` that exists in the file."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


def parse_yaml(text: str, file: str) -> Document:
    """Parse one YAML document; a syntax error becomes a ProjectFileError at its line."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ProjectFileError(
            f"invalid YAML: {exc.problem or exc}",
            file=file,
            line=mark.line + 1 if mark else None,
            hint="check indentation and quoting around this line",
        ) from exc
    finally:
        loader.dispose()
    lines: dict[Path, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return Document(data=data, lines=lines)


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines)
