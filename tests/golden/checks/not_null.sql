-- checks/not_null.yaml: the checks of shop.orders, compiled

-- the scan: every check's aggregates in one pass over the table
SELECT
  count(*) AS c0_eval,
  count(*) FILTER (WHERE "id" IS NULL) AS c0_fail,
  count(*) FILTER (WHERE (status <> 'cancelled')) AS c1_eval,
  count(*) FILTER (WHERE (status <> 'cancelled') AND "customer" IS NULL) AS c1_fail,
  count(*) AS c2_eval,
  count(*) FILTER (WHERE "placed" IS NULL) AS c2_fail,
  count(*) AS c3_eval,
  count(*) FILTER (WHERE "status" IS NULL) AS c3_fail
FROM "shop"."orders";

-- c0 not_null_id (not_null, error): id is not NULL
--   read from the scan: c0_eval, c0_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "id" IS NULL;

-- c1 not_null_customer (not_null, error): customer is not NULL
--   read from the scan: c1_eval, c1_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE (status <> 'cancelled') AND "customer" IS NULL;

-- c2 placed_mostly_set (not_null, warn, mostly 0.95): placed is not NULL
--   read from the scan: c2_eval, c2_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "placed" IS NULL;

-- c3 not_null_status (not_null, error): status is not NULL
--   read from the scan: c3_eval, c3_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "status" IS NULL;
