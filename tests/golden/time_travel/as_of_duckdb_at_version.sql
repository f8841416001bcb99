-- DuckDB's AT (VERSION => …)
SELECT id FROM shop.orders AT (VERSION => 1001)
