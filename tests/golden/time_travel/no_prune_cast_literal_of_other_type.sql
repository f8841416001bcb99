-- a literal cast to another type than the column's: DuckDB compares in that type
SELECT * FROM shop.orders WHERE status = CAST('5' AS INTEGER)
