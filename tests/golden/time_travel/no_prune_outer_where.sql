-- a WHERE outside the subquery that reads the table (DuckDB pushes it down itself)
SELECT * FROM (SELECT * FROM shop.orders) AS t WHERE id > 3
