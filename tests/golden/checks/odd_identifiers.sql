-- checks/odd_identifiers.yaml: the checks of shop.Orders, compiled

-- the scan: every check's aggregates in one pass over the table
SELECT
  count(*) AS c0_eval,
  count(*) FILTER (WHERE "Order ID" IS NULL) AS c0_fail,
  count(*) FILTER (WHERE "Order ID" IS NOT NULL AND "select" IS NOT NULL) AS c1_eval,
  count(*) FILTER (WHERE "Order ID" IS NOT NULL AND "select" IS NOT NULL) - count(DISTINCT row("Order ID", "select")) FILTER (WHERE "Order ID" IS NOT NULL AND "select" IS NOT NULL) AS c1_fail,
  count("Status") AS c2_eval,
  count(*) FILTER (WHERE "Status" IS NOT NULL AND ("Status" NOT IN ('Open'))) AS c2_fail,
  count("select") AS c3_eval,
  count(*) FILTER (WHERE "select" IS NOT NULL AND (NOT ("select" >= 0))) AS c3_fail,
  count(*) FILTER (WHERE "say ""hi""" IS NOT NULL) AS c4_eval,
  count(*) FILTER (WHERE "say ""hi""" IS NOT NULL AND (NOT regexp_matches(CAST("say ""hi""" AS VARCHAR), '^hi$'))) AS c4_fail,
  max("Ünïcode") AS c5_agg
FROM "shop"."Orders";

-- c0 not_null_Order ID (not_null, error): Order ID is not NULL
--   read from the scan: c0_eval, c0_fail
--   failing rows:
SELECT * FROM "shop"."Orders" WHERE "Order ID" IS NULL;

-- c1 unique_Order ID_select (unique, error): (Order ID, select) unique
--   read from the scan: c1_eval, c1_fail
--   failing rows:
SELECT * FROM "shop"."Orders" WHERE "Order ID" IS NOT NULL AND "select" IS NOT NULL AND ("Order ID", "select") IN (SELECT "Order ID", "select" FROM "shop"."Orders" WHERE "Order ID" IS NOT NULL AND "select" IS NOT NULL GROUP BY "Order ID", "select" HAVING count(*) > 1);

-- c2 accepted_values_Status (accepted_values, error): Status in ['Open']
--   read from the scan: c2_eval, c2_fail
--   failing rows:
SELECT * FROM "shop"."Orders" WHERE "Status" IS NOT NULL AND ("Status" NOT IN ('Open'));

-- c3 between_select (between, error): select >= 0
--   read from the scan: c3_eval, c3_fail
--   failing rows:
SELECT * FROM "shop"."Orders" WHERE "select" IS NOT NULL AND (NOT ("select" >= 0));

-- c4 regex_say "hi" (regex, error): say "hi" matches /^hi$/
--   read from the scan: c4_eval, c4_fail
--   failing rows:
SELECT * FROM "shop"."Orders" WHERE "say ""hi""" IS NOT NULL AND (NOT regexp_matches(CAST("say ""hi""" AS VARCHAR), '^hi$'));

-- c5 max_Ünïcode (aggregate, error): max(Ünïcode) in [None, 1]
--   read from the scan: c5_agg
