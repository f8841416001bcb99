-- checks/row_count.yaml: the checks of shop.orders, compiled

-- the scan: every check's aggregates in one pass over the table
SELECT
  count(*) AS c0_rows,
  count(*) AS c1_rows,
  count(*) FILTER (WHERE (status = 'new')) AS c2_rows,
  count(*) AS c3_rows,
  count(*) AS c4_rows,
  count(*) AS c5_rows
FROM "shop"."orders";

-- c0 row_count (row_count, error): row count in [1, None]
--   read from the scan: c0_rows

-- c1 rows_in_range (row_count, error): row count in [10, 1000000]
--   read from the scan: c1_rows

-- c2 few_new_orders (row_count, error): row count in [None, 100]
--   read from the scan: c2_rows

-- c3 same_rows_as_copy (row_count, error): row count = rows of shop.orders_copy
--   read from the scan: c3_rows
--   its own query:
SELECT count(*) FROM "shop"."orders_copy";

-- c4 gx_rows (row_count, error): row count in [1, 5]
--   read from the scan: c4_rows

-- c5 gx_same_rows (row_count, error): row count = rows of shop.orders_copy
--   read from the scan: c5_rows
--   its own query:
SELECT count(*) FROM "shop"."orders_copy";
