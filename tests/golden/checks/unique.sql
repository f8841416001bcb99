-- checks/unique.yaml: the checks of shop.order_lines, compiled

-- the scan: every check's aggregates in one pass over the table
SELECT
  count("product") AS c0_eval,
  count("product") - count(DISTINCT "product") AS c0_fail,
  count(*) FILTER (WHERE "order_id" IS NOT NULL AND "line" IS NOT NULL) AS c1_eval,
  count(*) FILTER (WHERE "order_id" IS NOT NULL AND "line" IS NOT NULL) - count(DISTINCT row("order_id", "line")) FILTER (WHERE "order_id" IS NOT NULL AND "line" IS NOT NULL) AS c1_fail,
  count(*) FILTER (WHERE (status = 'open') AND "product" IS NOT NULL) AS c2_eval,
  count(*) FILTER (WHERE (status = 'open') AND "product" IS NOT NULL) - count(DISTINCT "product") FILTER (WHERE (status = 'open') AND "product" IS NOT NULL) AS c2_fail,
  count("line") AS c3_eval,
  count("line") - count(DISTINCT "line") AS c3_fail,
  count(*) FILTER (WHERE "order_id" IS NOT NULL AND "product" IS NOT NULL) AS c4_eval,
  count(*) FILTER (WHERE "order_id" IS NOT NULL AND "product" IS NOT NULL) - count(DISTINCT row("order_id", "product")) FILTER (WHERE "order_id" IS NOT NULL AND "product" IS NOT NULL) AS c4_fail,
  count(*) FILTER (WHERE "product" IS NOT NULL AND "status" IS NOT NULL) AS c5_eval,
  count(*) FILTER (WHERE "product" IS NOT NULL AND "status" IS NOT NULL) - count(DISTINCT row("product", "status")) FILTER (WHERE "product" IS NOT NULL AND "status" IS NOT NULL) AS c5_fail
FROM "shop"."order_lines";

-- c0 unique_product (unique, error): (product) unique
--   read from the scan: c0_eval, c0_fail
--   failing rows:
SELECT * FROM "shop"."order_lines" WHERE "product" IS NOT NULL AND ("product") IN (SELECT "product" FROM "shop"."order_lines" WHERE "product" IS NOT NULL GROUP BY "product" HAVING count(*) > 1);

-- c1 unique_order_id_line (unique, error): (order_id, line) unique
--   read from the scan: c1_eval, c1_fail
--   failing rows:
SELECT * FROM "shop"."order_lines" WHERE "order_id" IS NOT NULL AND "line" IS NOT NULL AND ("order_id", "line") IN (SELECT "order_id", "line" FROM "shop"."order_lines" WHERE "order_id" IS NOT NULL AND "line" IS NOT NULL GROUP BY "order_id", "line" HAVING count(*) > 1);

-- c2 open_product_unique (unique, error): (product) unique
--   read from the scan: c2_eval, c2_fail
--   failing rows:
SELECT * FROM "shop"."order_lines" WHERE (status = 'open') AND "product" IS NOT NULL AND ("product") IN (SELECT "product" FROM "shop"."order_lines" WHERE (status = 'open') AND "product" IS NOT NULL GROUP BY "product" HAVING count(*) > 1);

-- c3 unique_line (unique, error): (line) unique
--   read from the scan: c3_eval, c3_fail
--   failing rows:
SELECT * FROM "shop"."order_lines" WHERE "line" IS NOT NULL AND ("line") IN (SELECT "line" FROM "shop"."order_lines" WHERE "line" IS NOT NULL GROUP BY "line" HAVING count(*) > 1);

-- c4 unique_order_id_product (unique, error): (order_id, product) unique
--   read from the scan: c4_eval, c4_fail
--   failing rows:
SELECT * FROM "shop"."order_lines" WHERE "order_id" IS NOT NULL AND "product" IS NOT NULL AND ("order_id", "product") IN (SELECT "order_id", "product" FROM "shop"."order_lines" WHERE "order_id" IS NOT NULL AND "product" IS NOT NULL GROUP BY "order_id", "product" HAVING count(*) > 1);

-- c5 unique_product_status (unique, error): (product, status) unique
--   read from the scan: c5_eval, c5_fail
--   failing rows:
SELECT * FROM "shop"."order_lines" WHERE "product" IS NOT NULL AND "status" IS NOT NULL AND ("product", "status") IN (SELECT "product", "status" FROM "shop"."order_lines" WHERE "product" IS NOT NULL AND "status" IS NOT NULL GROUP BY "product", "status" HAVING count(*) > 1);
