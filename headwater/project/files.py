"""Config of file connections (a folder, later object storage) and file sources."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from headwater.project.base import SourceBase, Strict, TableBase


class FilesConnection(Strict):
    """A folder of files (relative to the project, or absolute)."""

    type: Literal["files"] = "files"
    url: str


class FileTable(TableBase):
    """Files matching a glob pattern, loaded into one table."""

    glob: str


class FileSource(SourceBase):
    """Tables made of files under a files connection."""

    STATEFUL: ClassVar[bool] = True

    type: Literal["files"] = "files"
    tables: tuple[FileTable, ...] = Field(min_length=1)
