-- checks/between.yaml: the checks of shop.orders, compiled

-- the scan: every check's aggregates in one pass over the table
SELECT
  count("quantity") AS c0_eval,
  count(*) FILTER (WHERE "quantity" IS NOT NULL AND (NOT ("quantity" >= 1))) AS c0_fail,
  count("quantity") AS c1_eval,
  count(*) FILTER (WHERE "quantity" IS NOT NULL AND (NOT ("quantity" <= 1000))) AS c1_fail,
  count("price") AS c2_eval,
  count(*) FILTER (WHERE "price" IS NOT NULL AND (NOT ("price" >= 0.01 AND "price" <= 9999.99))) AS c2_fail,
  count("ratio") AS c3_eval,
  count(*) FILTER (WHERE "ratio" IS NOT NULL AND (NOT ("ratio" > 0 AND "ratio" < 1))) AS c3_fail,
  count("quantity") AS c4_eval,
  count(*) FILTER (WHERE "quantity" IS NOT NULL AND (NOT ("quantity" >= '1' AND "quantity" <= '50'))) AS c4_fail,
  count("placed") AS c5_eval,
  count(*) FILTER (WHERE "placed" IS NOT NULL AND (NOT ("placed" >= DATE '2020-01-01' AND "placed" <= '2030-12-31'))) AS c5_fail,
  count("at") AS c6_eval,
  count(*) FILTER (WHERE "at" IS NOT NULL AND (NOT ("at" >= TIMESTAMPTZ '2026-01-01T00:00:00+00:00'))) AS c6_fail,
  count("logged") AS c7_eval,
  count(*) FILTER (WHERE "logged" IS NOT NULL AND (NOT ("logged" <= TIMESTAMP '2026-06-30T12:00:00'))) AS c7_fail,
  count("code") AS c8_eval,
  count(*) FILTER (WHERE "code" IS NOT NULL AND (NOT ("code" >= 'A' AND "code" <= 'M'))) AS c8_fail,
  count(*) FILTER (WHERE (price > 100) AND "quantity" IS NOT NULL) AS c9_eval,
  count(*) FILTER (WHERE (price > 100) AND "quantity" IS NOT NULL AND (NOT ("quantity" >= 10))) AS c9_fail,
  count("ratio") AS c10_eval,
  count(*) FILTER (WHERE "ratio" IS NOT NULL AND (NOT ("ratio" >= 0 AND "ratio" < 1))) AS c10_fail
FROM "shop"."orders";

-- c0 between_quantity (between, error): quantity >= 1
--   read from the scan: c0_eval, c0_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "quantity" IS NOT NULL AND (NOT ("quantity" >= 1));

-- c1 quantity_at_most_1000 (between, error): quantity <= 1000
--   read from the scan: c1_eval, c1_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "quantity" IS NOT NULL AND (NOT ("quantity" <= 1000));

-- c2 between_price (between, error): price >= 0.01 AND price <= 9999.99
--   read from the scan: c2_eval, c2_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "price" IS NOT NULL AND (NOT ("price" >= 0.01 AND "price" <= 9999.99));

-- c3 between_ratio (between, error): ratio > 0 AND ratio < 1
--   read from the scan: c3_eval, c3_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "ratio" IS NOT NULL AND (NOT ("ratio" > 0 AND "ratio" < 1));

-- c4 quantity_text_bounds (between, error): quantity >= '1' AND quantity <= '50'
--   read from the scan: c4_eval, c4_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "quantity" IS NOT NULL AND (NOT ("quantity" >= '1' AND "quantity" <= '50'));

-- c5 between_placed (between, error): placed >= DATE '2020-01-01' AND placed <= '2030-12-31'
--   read from the scan: c5_eval, c5_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "placed" IS NOT NULL AND (NOT ("placed" >= DATE '2020-01-01' AND "placed" <= '2030-12-31'));

-- c6 between_at (between, error): at >= TIMESTAMPTZ '2026-01-01T00:00:00+00:00'
--   read from the scan: c6_eval, c6_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "at" IS NOT NULL AND (NOT ("at" >= TIMESTAMPTZ '2026-01-01T00:00:00+00:00'));

-- c7 between_logged (between, error): logged <= TIMESTAMP '2026-06-30T12:00:00'
--   read from the scan: c7_eval, c7_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "logged" IS NOT NULL AND (NOT ("logged" <= TIMESTAMP '2026-06-30T12:00:00'));

-- c8 between_code (between, error): code >= 'A' AND code <= 'M'
--   read from the scan: c8_eval, c8_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "code" IS NOT NULL AND (NOT ("code" >= 'A' AND "code" <= 'M'));

-- c9 big_orders_have_quantity (between, error): quantity >= 10
--   read from the scan: c9_eval, c9_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE (price > 100) AND "quantity" IS NOT NULL AND (NOT ("quantity" >= 10));

-- c10 gx_ratio (between, error): ratio >= 0 AND ratio < 1
--   read from the scan: c10_eval, c10_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "ratio" IS NOT NULL AND (NOT ("ratio" >= 0 AND "ratio" < 1));
