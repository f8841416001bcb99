"""Shared pieces of the project file's typed shape: the strict base, names, load settings."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def one_or_many(value: Any) -> Any:
    """One string where a list is expected stands for the list of it (``primary_key: id``)."""
    return [value] if isinstance(value, str) else value


# names given as a list, or as one name alone
Names = Annotated[tuple[str, ...], BeforeValidator(one_or_many)]


def _duration_text(value: str) -> str:
    from headwater.durations import parse_duration
    from headwater.errors import ProjectError

    try:
        parse_duration(value)
    except ProjectError as exc:  # reported at its key and line of headwater.yaml
        raise ValueError(f"{exc.message}; {exc.hint}") from None
    return value


# a duration as users write it (90s, 24h, 7d, PT2H), checked, and kept as written
DurationText = Annotated[str, AfterValidator(_duration_text)]


class Strict(BaseModel):
    """Base for every config object: frozen, and unknown keys are errors."""

    # numbers given where text is expected (a variable's default in a description) are text
    model_config = ConfigDict(
        extra="forbid", frozen=True, coerce_numbers_to_str=True, defer_build=True
    )


def identifier(value: str, what: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(
            f"{what} `{value}` must be letters, digits and underscores, not starting with a digit"
        )
    return value


Strategy = Literal["full", "append", "incremental", "merge", "scd2", "cdc"]
Contract = Literal["evolve", "freeze", "discard_row", "discard_value"]


class Load(Strict):
    """How extracted rows become the table's rows; set on a source, overridden per table."""

    strategy: Strategy = Field(
        default="full",
        description="full | append | incremental | merge | scd2 | cdc (change data capture: "
        "a mirror kept by the source's change log)",
    )
    cursor: str | None = Field(
        default=None, description="column (or record field) whose maximum is the watermark"
    )
    lag: str | float | None = Field(
        default=None,
        description="re-read this far behind the watermark: a number, or a duration like 2h / 1d",
    )
    initial: str | float | None = Field(
        default=None, description="the watermark before the first load (rows below it are skipped)"
    )
    primary_key: Names = Field(default=(), description="key columns for merge/scd2")
    delete_missing: bool = Field(
        default=False, description="merge: delete rows whose key is gone from a full extract"
    )
    delete_column: str | None = Field(
        default=None, description="merge: a boolean column; rows where it is true are deleted"
    )
    contract: Contract = Field(
        default="evolve", description="what to do with new columns and values that do not fit"
    )
    on_null_cursor: Literal["fail", "exclude"] = Field(
        default="fail", description="rows whose cursor is NULL: fail the load, or skip them"
    )
    on_bad_rows: Literal["quarantine", "fail"] = Field(
        default="quarantine",
        description="input the load refuses (a bad line of a file, a row or value the contract "
        "or `on_null_cursor: exclude` keeps out): keep it in `<table>__quarantine` and load the "
        "rest, or fail the load without publishing anything",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """Accept `load: merge` for `load: {strategy: merge}`."""
        return {"strategy": value} if isinstance(value, str) else value

    def over(self, base: Load) -> Load:
        """These settings where given, ``base``'s elsewhere (a table's over its source's)."""
        merged = base.model_dump(by_alias=True)
        merged.update(self.model_dump(include=self.model_fields_set))
        return Load.model_validate(merged)

    def problems(self, stateful_source: bool) -> list[str]:
        """What is missing for the strategy; checked on the effective (merged) settings."""
        out = []
        if self.strategy == "incremental" and not self.cursor:
            out.append("strategy `incremental` needs `cursor: COLUMN`")
        if self.strategy in ("merge", "scd2") and not self.primary_key:
            out.append(f"strategy `{self.strategy}` needs `primary_key`")
        if self.strategy == "append" and not self.cursor and not stateful_source:
            out.append(
                "strategy `append` without `cursor` would add every row again on each run; "
                "set `cursor`, or use `full` or `merge`"
            )
        if (self.delete_missing or self.delete_column) and self.strategy != "merge":
            out.append("`delete_missing` and `delete_column` apply to strategy `merge` only")
        if self.strategy == "full" and self.cursor:
            out.append(
                "strategy `full` replaces the table with what is read, and a `cursor` would "
                "make that only the new rows; use `append` or `incremental` with a cursor"
            )
        if self.strategy == "cdc" and self.cursor:
            out.append(
                "strategy `cdc` reads the source's change log, not a cursor column; remove `cursor`"
            )
        if self.lag is not None and not self.cursor:
            out.append("`lag` needs a `cursor`")
        elif self.lag is not None and self.strategy == "append":
            out.append(
                "`lag` re-reads rows below the cursor, which `append` would add twice; "
                "use `incremental`"
            )
        return out


class TableBase(Strict):
    """What every source's table entry has: its name in the lake and optional load settings."""

    name: str = Field(description="table name in the target namespace")
    load: Load | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return identifier(value, "table name")


class SourceBase(Strict):
    """What every source has: its connection, target namespace and default load settings."""

    connection: str
    namespace: str = "raw"
    load: Load = Load()
    attempts: int = Field(
        default=3,
        ge=1,
        description="attempts of a load that fails on a retryable error (a lost connection, "
        "a timeout), each from the last committed state; a step's `retries` take precedence",
    )
    retry_delay: float = Field(
        default=1.0, ge=0, description="seconds before the first retry; doubled each time"
    )

    @field_validator("namespace")
    @classmethod
    def _valid_namespace(cls, value: str) -> str:
        return identifier(value, "namespace")

    # Sources that remember what they read themselves (files seen, stream offsets).
    STATEFUL: ClassVar[bool] = False

    def load_for(self, table: TableBase) -> Load:
        return table.load.over(self.load) if table.load is not None else self.load
