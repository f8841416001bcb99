"""Config of file connections (a local folder or an S3 prefix) and file sources."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from headwater.project.base import Names, SourceBase, Strict, TableBase, identifier

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


class S3Config(Strict):
    """How to reach an S3 bucket; anything left out comes from the AWS_* environment."""

    endpoint_url: str | None = Field(
        default=None, description="e.g. http://127.0.0.1:9000 (MinIO, moto); default: AWS"
    )
    region: str | None = Field(default=None, description="default: AWS_REGION, or us-east-1")
    access_key_id: str | None = Field(default=None, description="default: AWS_ACCESS_KEY_ID")
    secret_access_key: SecretStr | None = Field(
        default=None, description="default: AWS_SECRET_ACCESS_KEY; give it as a sensitive variable"
    )
    session_token: SecretStr | None = Field(default=None, description="temporary credentials")
    profile: str | None = Field(default=None, description="a profile of ~/.aws/credentials")
    path_style: bool | None = Field(
        default=None,
        description="bucket in the path, not the host name (default: with an endpoint)",
    )


class FilesConnection(Strict):
    """A folder of files: relative to the project, absolute, a ``file://`` or ``s3://`` URL."""

    type: Literal["files"] = "files"
    url: str = Field(
        description="folder of the files (relative paths are from the project folder), or "
        "s3://bucket/prefix"
    )
    s3: S3Config | None = Field(default=None, description="S3 settings for an s3:// url")

    @model_validator(mode="after")
    def _s3_settings_on_s3(self) -> FilesConnection:
        if self.s3 is not None and not self.url.startswith("s3://"):
            raise ValueError(f"`s3` settings apply to an s3:// url, not to `{self.url}`")
        return self


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
    nulls: Names = Field(default=(), description="CSV: strings read as NULL")
    file_column: str | None = Field(
        default=None, description="a column holding each row's file path (relative to the folder)"
    )

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
