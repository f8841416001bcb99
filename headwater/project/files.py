"""Config of file connections (a folder, later object storage) and file sources."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from headwater.project.base import SourceBase, Strict, TableBase, identifier

FileFormat = Literal["auto", "csv", "tsv", "json", "jsonl", "parquet"]

# Spellings people use for the encodings DuckDB's CSV reader knows without an extension.
ENCODING_ALIASES = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf16": "utf-16",
    "utf-16": "utf-16",
    "latin1": "latin-1",
    "latin-1": "latin-1",
    "iso-8859-1": "latin-1",
    "iso8859-1": "latin-1",
}


class FilesConnection(Strict):
    """A folder of files: relative to the project, absolute, or a ``file://`` URL."""

    type: Literal["files"] = "files"
    url: str = Field(description="folder of the files; relative paths are from the project folder")


class FileTable(TableBase):
    """Files matching a glob pattern, loaded into one table; new and changed files only."""

    glob: str = Field(description="files under the connection folder, e.g. `trips/*.csv`")
    format: FileFormat = Field(default="auto", description="auto: by the file extension")
    header: bool | None = Field(
        default=None, description="CSV: first line is a header (default: detect)"
    )
    delimiter: str | None = Field(
        default=None, description="CSV: field separator (default: `,`; tab for tsv)"
    )
    quote: str | None = Field(default=None, description="CSV: quote character (default: detect)")
    encoding: str = Field(default="utf-8", description="CSV: utf-8, utf-16 or latin-1")
    columns: dict[str, str] | None = Field(
        default=None, description="CSV: column name → DuckDB type, instead of detecting them"
    )
    nulls: tuple[str, ...] = Field(default=(), description="CSV: strings read as NULL")
    file_column: str | None = Field(
        default=None, description="a column holding each row's file path (relative to the folder)"
    )

    @field_validator("nulls", mode="before")
    @classmethod
    def _one_null(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            return ENCODING_ALIASES[value.lower()]
        except KeyError:
            raise ValueError(
                f"encoding `{value}` is not supported; use utf-8, utf-16 or latin-1"
            ) from None

    @field_validator("file_column")
    @classmethod
    def _valid_file_column(cls, value: str | None) -> str | None:
        return None if value is None else identifier(value, "file_column")

    @model_validator(mode="after")
    def _csv_options_on_csv(self) -> FileTable:
        csv_only = {"header", "delimiter", "quote", "columns", "nulls"} & self.model_fields_set
        if self.encoding != "utf-8":
            csv_only.add("encoding")
        if csv_only and self.format in ("json", "jsonl", "parquet"):
            names = ", ".join(f"`{name}`" for name in sorted(csv_only))
            raise ValueError(f"{names}: options of CSV/TSV files, not of format `{self.format}`")
        return self


class FileSource(SourceBase):
    """Tables made of files under a files connection."""

    STATEFUL: ClassVar[bool] = True

    type: Literal["files"] = "files"
    tables: tuple[FileTable, ...] = Field(min_length=1)
    batch_rows: int = Field(default=100_000, gt=0, description="rows per Arrow record batch")
