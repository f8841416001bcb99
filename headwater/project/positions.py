"""Parse YAML keeping the line of every key and item, so errors can point at file:line."""

from __future__ import annotations

import pathlib
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


def read_text(path: str | pathlib.Path) -> str:
    """A project file's text; a file that is not UTF-8 is a ProjectFileError at its line."""
    data = pathlib.Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        column = exc.start - before.rfind(b"\n")
        raise ProjectFileError(
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} at column {column} "
            "cannot be read",
            file=str(path),
            line=before.count(b"\n") + 1,
            hint="save the file as UTF-8 (most editors: 'Save with encoding')",
        ) from exc


def parse_yaml(text: str, file: str) -> Document:
    """Parse one YAML document; a syntax error becomes a ProjectFileError at its line."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # checks every character first
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
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, controls)
        before = text[: exc.position]
        column = exc.position - before.rfind("\n")
        raise ProjectFileError(
            f"the character U+{exc.character:04X} at column {column} is not allowed in YAML",
            file=file,
            line=before.count("\n") + 1,
            hint="remove it (control characters cannot appear in the file; write them as "
            '"\\x01"-style escapes inside a double-quoted string)',
        ) from exc
    finally:
        if loader is not None:
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
