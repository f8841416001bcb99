"""The check catalogue: one typed rule per kind, with Great Expectations names as aliases.

A check in YAML is a mapping with one kind key (``not_null: id``) and optional common keys
(``name``, ``severity``, ``mostly``, ``where``)::

    - not_null: orderNumber
    - unique: [orderNumber, productCode]
    - between: {column: quantityOrdered, min: 1, max: 1000}
      severity: warn
    - expect_column_values_to_not_be_null: {column: customerNumber}   # the GX name
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from headwater.project.base import Strict

Severity = Literal["warn", "error"]


class Rule(Strict):
    """What every check has besides its kind's arguments."""

    name: str | None = Field(default=None, description="default: <kind>_<column>")
    severity: Severity = "error"
    mostly: float = Field(default=1.0, gt=0, le=1, description="passing fraction required")
    where: str | None = Field(default=None, description="a SQL condition: check only these rows")

    @property
    def label(self) -> str:
        return self.name or self.default_name()

    def default_name(self) -> str:
        kind = getattr(self, "kind", "check")
        column = getattr(self, "column", None) or "_".join(getattr(self, "columns", ()) or ())
        return f"{kind}_{column}" if column else str(kind)


class ColumnRule(Rule):
    column: str


class NotNull(ColumnRule):
    kind: Literal["not_null"] = "not_null"


class Unique(Rule):
    kind: Literal["unique"] = "unique"
    columns: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _column(cls, value: Any) -> Any:
        if isinstance(value, dict) and "column" in value:
            # a new dict without `column`: the caller's mapping stays as it was
            value = {
                **{k: v for k, v in value.items() if k != "column"},
                "columns": value["column"],
            }
        if isinstance(value, dict) and isinstance(value.get("columns"), str):
            value = {**value, "columns": [value["columns"]]}
        return value


class AcceptedValues(ColumnRule):
    kind: Literal["accepted_values"] = "accepted_values"
    values: tuple[Any, ...] = Field(min_length=1)


class NotInSet(ColumnRule):
    kind: Literal["not_in_set"] = "not_in_set"
    values: tuple[Any, ...] = Field(min_length=1)


class Between(ColumnRule):
    """``min <= value <= max`` (``strict_min``/``strict_max`` exclude the bound); numbers or
    dates. NULLs are not evaluated (use ``not_null`` for them)."""

    kind: Literal["between"] = "between"
    min: Any = None
    max: Any = None
    strict_min: bool = False
    strict_max: bool = False

    @model_validator(mode="after")
    def _a_bound(self) -> Between:
        if self.min is None and self.max is None:
            raise ValueError("`between` needs `min`, `max` or both")
        return self


class Regex(ColumnRule):
    kind: Literal["regex"] = "regex"
    pattern: str


class Length(ColumnRule):
    kind: Literal["length"] = "length"
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class RowCount(Rule):
    kind: Literal["row_count"] = "row_count"
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)
    equal_to: str | None = Field(default=None, description="another table with as many rows")


class Freshness(ColumnRule):
    """The newest value of a date/timestamp column is younger than ``max_age``."""

    kind: Literal["freshness"] = "freshness"
    max_age: str = Field(description="a duration: 90m, 2h, 1d, P1D")


class SchemaRule(Rule):
    """The table has these columns (``ordered``: in this order; ``exact``: no others), and
    optionally these types (``types: {col: int64}``)."""

    kind: Literal["schema"] = "schema"
    columns: tuple[str, ...] = ()
    ordered: bool = False
    exact: bool = False
    types: dict[str, str] = Field(default_factory=dict)

    def default_name(self) -> str:
        return "schema"


class Relationships(ColumnRule):
    """Every non-NULL value of ``column`` exists in ``to``'s ``field`` (a foreign key)."""

    kind: Literal["relationships"] = "relationships"
    to: str
    field: str


class CustomSql(Rule):
    """A SELECT whose rows are failures (``{table}`` stands for the checked table)."""

    kind: Literal["sql"] = "sql"
    sql: str

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, value: Any) -> Any:
        return {"sql": value} if isinstance(value, str) else value


Aggregate = Literal["mean", "stddev", "min", "max", "sum", "quantile"]


class AggregateBetween(ColumnRule):
    kind: Literal["aggregate"] = "aggregate"
    function: Aggregate
    quantile: float | None = Field(default=None, ge=0, le=1)
    min: Any = None
    max: Any = None

    def default_name(self) -> str:
        return f"{self.function}_{self.column}"

    @model_validator(mode="after")
    def _quantile(self) -> AggregateBetween:
        if (self.function == "quantile") != (self.quantile is not None):
            raise ValueError("`quantile: Q` goes with `function: quantile`, and only with it")
        if self.min is None and self.max is None:
            raise ValueError("`aggregate` needs `min`, `max` or both")
        return self


class VolumeAnomaly(Rule):
    """The row count is within ``z`` standard deviations of the table's own history."""

    kind: Literal["volume_anomaly"] = "volume_anomaly"
    z: float = Field(default=3.0, gt=0)
    min_history: int = Field(default=5, ge=2, description="evaluations needed before judging")


Check = Annotated[
    Annotated[NotNull, Tag("not_null")]
    | Annotated[Unique, Tag("unique")]
    | Annotated[AcceptedValues, Tag("accepted_values")]
    | Annotated[NotInSet, Tag("not_in_set")]
    | Annotated[Between, Tag("between")]
    | Annotated[Regex, Tag("regex")]
    | Annotated[Length, Tag("length")]
    | Annotated[RowCount, Tag("row_count")]
    | Annotated[Freshness, Tag("freshness")]
    | Annotated[SchemaRule, Tag("schema")]
    | Annotated[Relationships, Tag("relationships")]
    | Annotated[CustomSql, Tag("sql")]
    | Annotated[AggregateBetween, Tag("aggregate")]
    | Annotated[VolumeAnomaly, Tag("volume_anomaly")],
    Discriminator(lambda v: v.get("kind") if isinstance(v, dict) else getattr(v, "kind", None)),
]

KINDS = (
    "not_null",
    "unique",
    "accepted_values",
    "not_in_set",
    "between",
    "regex",
    "length",
    "row_count",
    "freshness",
    "schema",
    "relationships",
    "sql",
    "aggregate",
    "volume_anomaly",
)

# Great Expectations' names for the same rules, and how their arguments are spelt.
GX_ALIASES: dict[str, str] = {
    "expect_column_values_to_not_be_null": "not_null",
    "expect_column_values_to_be_unique": "unique",
    "expect_compound_columns_to_be_unique": "unique",
    "expect_select_column_values_to_be_unique_within_record": "unique",
    "expect_column_values_to_be_in_set": "accepted_values",
    "expect_column_values_to_not_be_in_set": "not_in_set",
    "expect_column_values_to_be_between": "between",
    "expect_column_values_to_match_regex": "regex",
    "expect_column_value_lengths_to_be_between": "length",
    "expect_table_row_count_to_be_between": "row_count",
    "expect_table_row_count_to_equal_other_table": "row_count",
    "expect_table_columns_to_match_set": "schema",
    "expect_table_columns_to_match_ordered_list": "schema",
    "expect_column_values_to_be_of_type": "schema",
    "expect_column_mean_to_be_between": "aggregate",
    "expect_column_stdev_to_be_between": "aggregate",
    "expect_column_min_to_be_between": "aggregate",
    "expect_column_max_to_be_between": "aggregate",
    "expect_column_sum_to_be_between": "aggregate",
    "expect_column_median_to_be_between": "aggregate",
}
