-- checks/volume_and_schema.yaml: the checks of shop.orders, compiled

-- the scan: every check's aggregates in one pass over the table
SELECT
  count(*) AS c0_rows,
  count(*) FILTER (WHERE (status = 'new')) AS c1_rows
FROM "shop"."orders";

-- c0 volume_anomaly (volume_anomaly, error): row count within 3.0 standard deviations of its history
--   read from the scan: c0_rows

-- c1 new_orders_volume (volume_anomaly, error): row count within 2.5 standard deviations of its history
--   read from the scan: c1_rows

-- c2 schema (schema, error): columns id, status

-- c3 exact_schema (schema, error): columns id, status, amount

-- c4 amount_type (schema, error): column types
