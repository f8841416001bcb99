-- floating-point columns are never pruned: DuckDB orders NaN above every number
SELECT * FROM shop.orders WHERE score > 1.5
