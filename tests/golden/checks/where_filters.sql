-- checks/where_filters.yaml: the checks of shop.orders, compiled

-- the scan: every check's aggregates in one pass over the table
SELECT
  count(*) FILTER (WHERE (status = 'paid' OR status = 'shipped')) AS c0_eval,
  count(*) FILTER (WHERE (status = 'paid' OR status = 'shipped') AND "amount" IS NULL) AS c0_fail,
  count(*) FILTER (WHERE (placed >= CAST('2024-01-01' AS DATE) AND "Order Type" IN ('web', 'shop')) AND "amount" IS NOT NULL) AS c1_eval,
  count(*) FILTER (WHERE (placed >= CAST('2024-01-01' AS DATE) AND "Order Type" IN ('web', 'shop')) AND "amount" IS NOT NULL AND (NOT ("amount" >= 0))) AS c1_fail,
  count(*) FILTER (WHERE (NOT amount IS NULL) AND "status" IS NOT NULL) AS c2_eval,
  count(*) FILTER (WHERE (NOT amount IS NULL) AND "status" IS NOT NULL AND ("status" NOT IN ('paid'))) AS c2_fail,
  count(*) FILTER (WHERE (LOWER(status) LIKE 'ship%')) AS c3_rows
FROM "shop"."orders";

-- c0 not_null_amount (not_null, error): amount is not NULL
--   read from the scan: c0_eval, c0_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE (status = 'paid' OR status = 'shipped') AND "amount" IS NULL;

-- c1 between_amount (between, error): amount >= 0
--   read from the scan: c1_eval, c1_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE (placed >= CAST('2024-01-01' AS DATE) AND "Order Type" IN ('web', 'shop')) AND "amount" IS NOT NULL AND (NOT ("amount" >= 0));

-- c2 priced_orders_paid (accepted_values, error): status in ['paid']
--   read from the scan: c2_eval, c2_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE (NOT amount IS NULL) AND "status" IS NOT NULL AND ("status" NOT IN ('paid'));

-- c3 some_shipped (row_count, error): row count in [1, None]
--   read from the scan: c3_rows

-- c4 two_statements_refused (not_null, error): refused
--   `where: 1 = 1; DROP TABLE shop.orders` is not a SQL condition: Failed to parse '1 = 1; DROP TABLE shop.orders' into <class 'sqlglot.expressions.core.Condition'>

-- c5 a_query_refused (not_null, error): refused
--   `where: SELECT 1` is not a SQL condition: Failed to parse 'SELECT 1' into <class 'sqlglot.expressions.core.Condition'>
