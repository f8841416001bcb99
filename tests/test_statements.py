"""The read-only gate names what it refuses and what to write instead."""

from __future__ import annotations

import duckdb
import pytest

from headwater.errors import QueryError
from headwater.sql.statements import require_read


def test_a_pivot_without_its_values_says_to_list_them() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (a VARCHAR, b INTEGER)")
    with pytest.raises(QueryError) as refused:
        require_read(con, "PIVOT t ON a USING count(*)")
    assert "runs as several (CREATE, SELECT)" in refused.value.message
    assert "ON column IN" in (refused.value.hint or "")
    with pytest.raises(QueryError, match="give one statement at a time"):
        require_read(con, "SELECT 1; SELECT 2")
    require_read(con, "PIVOT t ON a IN ('x') USING count(*)")  # a read: no error


@pytest.mark.parametrize("sql", ["", "   ", "/* only a comment */", ";"])
def test_an_empty_statement_is_called_empty(sql: str) -> None:
    with pytest.raises(QueryError, match="^the statement is empty — give one SELECT statement$"):
        require_read(duckdb.connect(), sql)
