-- a literal of another kind than the column: DuckDB's casts are not second-guessed
SELECT * FROM shop.orders WHERE id = '3' OR status = 3 OR id = 3.5 OR placed = 20260101
