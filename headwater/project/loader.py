"""Load a project folder: read headwater.yaml, resolve variables, interpolate, validate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError

from headwater.errors import ProjectFileError, ProjectNotFound, did_you_mean
from headwater.project import config as cfg
from headwater.project.interpolate import interpolate
from headwater.project.positions import Document, parse_yaml, read_text
from headwater.project.variables import resolve

PROJECT_FILE = "headwater.yaml"


@dataclass(frozen=True)
class Project:
    """A validated project: its folder, its config and the variable values it was loaded with."""

    root: Path
    config: cfg.ProjectConfig
    variables: Mapping[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def state_dir(self) -> Path:
        """The project's private folder (catalog, state, embedded databases)."""
        return self.root / ".headwater"

    def path(self, relative: str) -> Path:
        """A path from the project file, resolved against the project folder."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.root / p


def load_project(
    root: str | Path = ".",
    variables: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Project:
    """Load and validate the project in ``root`` (a folder, or the headwater.yaml itself)."""
    root = Path(root).expanduser().resolve()
    file = root if root.is_file() else root / PROJECT_FILE
    if not file.exists():
        raise ProjectNotFound(
            f"no {PROJECT_FILE} in {file.parent}",
            hint="run from a project folder, pass --project DIR, or create one with `headwater init DIR`",
        )
    text = read_text(file)
    shown = str(file)
    doc = parse_yaml(text, shown)
    if not isinstance(doc.data, dict):
        raise ProjectFileError(
            "the project file must be a mapping with at least `name:`",
            file=shown,
            line=1,
            hint="see `headwater guide project-file`",
        )
    declared = _declared_variables(doc, shown)
    values = resolve(declared, dict(variables or {}), environ)
    data = interpolate(doc, shown, values, environ)
    try:
        config = cfg.ProjectConfig.model_validate(data)
    except ValidationError as exc:
        raise _file_error(exc, doc, data, shown) from None
    for path, what, name, known in config.broken_references():
        raise ProjectFileError(
            f"{what} `{name}` is not defined{did_you_mean(name, known)}",
            file=shown,
            line=doc.line_of(path),
            key=".".join(str(p) for p in path),
            hint=f"{what}s defined: {', '.join(known) or 'none'}",
        )
    for path, problem in config.load_problems():
        raise ProjectFileError(
            problem,
            file=shown,
            line=doc.line_of(path),
            key=".".join(str(p) for p in path),
            hint="see `headwater guide streams processors`"
            if path[0] == "processors"
            else "see `headwater guide project-file load-strategies`",
        )
    return Project(root=file.parent, config=config, variables=values)


def _declared_variables(doc: Document, file: str) -> dict[str, Any]:
    raw = doc.data.get("variables") or {}
    if not isinstance(raw, dict):
        raise ProjectFileError(
            "`variables` must be a mapping of name to default",
            file=file,
            line=doc.line_of(("variables",)),
        )
    return {
        str(name): (spec.get("default") if isinstance(spec, dict) else spec)
        for name, spec in raw.items()
    }


def _file_error(exc: ValidationError, doc: Document, data: Any, file: str) -> ProjectFileError:
    """One error naming the first problem's line, listing every problem found."""
    problems: list[tuple[bool, int | None, str]] = []
    errors = exc.errors()
    for error in errors:
        if error["type"] == "too_short" and any(
            len(other["loc"]) > len(error["loc"])
            and tuple(other["loc"][: len(error["loc"])]) == tuple(error["loc"])
            for other in errors
        ):
            continue  # "no items left" only because its items are wrong: those errors say why
        path = _data_path(data, error["loc"])
        key = ".".join(str(p) for p in path) or "(top level)"
        # an unknown key usually explains a "missing" one beside it (a typo): report it first
        problems.append(
            (
                error["type"] != "extra_forbidden",
                doc.line_of(path),
                f"{key}: {_describe(error, data, path)}",
            )
        )
    problems.sort(key=lambda p: (p[0], p[1] or 0))
    first_line = problems[0][1]
    message = problems[0][2]
    if len(problems) > 1:
        message += "".join(f"\n  {file}:{line}: {text}" for _, line, text in problems[1:])
    return ProjectFileError(
        message, file=file, line=first_line, hint="see `headwater guide project-file`"
    )


def _data_path(data: Any, loc: tuple[int | str, ...]) -> tuple[str | int, ...]:
    """Map pydantic's location to the path in the file, skipping union tags it inserts."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            continue  # a union tag pydantic inserted, not a key of the file
        path.append(part)
    return tuple(path)


def _describe(error: Any, data: Any, path: tuple[str | int, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        parent = _at(data, path[:-1]) if path and path[-1] == key else _at(data, path)
        model = _model_at(tuple(error["loc"][:-1]))
        allowed = (
            _keys(model)
            if model is not None
            else _allowed_keys(parent if isinstance(parent, dict) else {})
        )
        return f"unknown key `{key}`{did_you_mean(key, allowed)}; expected one of: {', '.join(allowed)}"
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        return f"unknown type `{ctx.get('tag')}`; expected one of: {ctx.get('expected_tags')}"
    if kind == "missing":
        return f"required key `{error['loc'][-1]}` is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind.startswith(("value_error", "assertion_error")):
        return message
    return f"{message[0].lower()}{message[1:]}; found {error['input']!r}"


def _at(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config model at pydantic's error location, following union tags in it."""
    node: Any = cfg.ProjectConfig
    parts = list(loc)
    while parts:
        node, consumed = _step(node, parts[0])
        if node is None:
            return None
        if consumed:
            parts.pop(0)
    while get_origin(node) is Annotated or _is_union(node):
        node, _ = _step(node, None)
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def _step(node: Any, part: Any) -> tuple[Any, bool]:
    """One step down from ``node`` (a model or an annotation) by ``part``; whether it was used."""
    if isinstance(node, type) and issubclass(node, BaseModel):
        for name, field in node.model_fields.items():
            if part in (name, field.alias):
                return field.annotation, True
        return None, True
    origin, args = get_origin(node), get_args(node)
    if origin is Annotated:
        return args[0], False
    if origin is dict:
        return args[1], True
    if origin in (tuple, list):
        return args[0], True
    if _is_union(node):
        members = [a for a in args if a is not type(None)]
        for member in members:  # a discriminated union: pydantic puts the tag in the location
            tags = [m for m in get_args(member)[1:] if isinstance(m, Tag)]
            if tags and tags[0].tag == part:
                return get_args(member)[0], True
        return members[0], False
    return None, True


def _is_union(node: Any) -> bool:
    return get_origin(node) in (Union, UnionType)


def _allowed_keys(present: dict[str, Any]) -> list[str]:
    """Keys of the config model that best matches the mapping the unknown key sits in."""
    candidates: list[type[BaseModel]] = []
    pending: list[type[BaseModel]] = [cfg.Strict]
    while pending:
        for sub in pending.pop().__subclasses__():
            candidates.append(sub)
            pending.append(sub)

    def keys(model: type[BaseModel]) -> list[str]:
        return [f.alias or name for name, f in model.model_fields.items()]

    best = max(candidates, key=lambda m: (len(set(keys(m)) & set(present)), m is cfg.ProjectConfig))
    return keys(best)
