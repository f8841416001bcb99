-- checks/length.yaml: the checks of shop.customers, compiled

-- the scan: every check's aggregates in one pass over the table
SELECT
  count("country") AS c0_eval,
  count(*) FILTER (WHERE "country" IS NOT NULL AND (NOT (length(CAST("country" AS VARCHAR)) >= 2 AND length(CAST("country" AS VARCHAR)) <= 2))) AS c0_fail,
  count("name") AS c1_eval,
  count(*) FILTER (WHERE "name" IS NOT NULL AND (NOT (length(CAST("name" AS VARCHAR)) >= 1))) AS c1_fail,
  count(*) FILTER (WHERE (country = 'US') AND "postal" IS NOT NULL) AS c2_eval,
  count(*) FILTER (WHERE (country = 'US') AND "postal" IS NOT NULL AND (NOT (length(CAST("postal" AS VARCHAR)) <= 10))) AS c2_fail,
  count("id") AS c3_eval,
  count(*) FILTER (WHERE "id" IS NOT NULL AND (NOT (length(CAST("id" AS VARCHAR)) <= 9))) AS c3_fail,
  count("name") AS c4_eval,
  count(*) FILTER (WHERE "name" IS NOT NULL AND (NOT (length(CAST("name" AS VARCHAR)) <= 100))) AS c4_fail
FROM "shop"."customers";

-- c0 length_country (length, error): length of country in [2, 2]
--   read from the scan: c0_eval, c0_fail
--   failing rows:
SELECT * FROM "shop"."customers" WHERE "country" IS NOT NULL AND (NOT (length(CAST("country" AS VARCHAR)) >= 2 AND length(CAST("country" AS VARCHAR)) <= 2));

-- c1 length_name (length, error): length of name in [1, None]
--   read from the scan: c1_eval, c1_fail
--   failing rows:
SELECT * FROM "shop"."customers" WHERE "name" IS NOT NULL AND (NOT (length(CAST("name" AS VARCHAR)) >= 1));

-- c2 length_postal (length, error): length of postal in [None, 10]
--   read from the scan: c2_eval, c2_fail
--   failing rows:
SELECT * FROM "shop"."customers" WHERE (country = 'US') AND "postal" IS NOT NULL AND (NOT (length(CAST("postal" AS VARCHAR)) <= 10));

-- c3 length_id (length, error): length of id in [None, 9]
--   read from the scan: c3_eval, c3_fail
--   failing rows:
SELECT * FROM "shop"."customers" WHERE "id" IS NOT NULL AND (NOT (length(CAST("id" AS VARCHAR)) <= 9));

-- c4 gx_name_length (length, error): length of name in [None, 100]
--   read from the scan: c4_eval, c4_fail
--   failing rows:
SELECT * FROM "shop"."customers" WHERE "name" IS NOT NULL AND (NOT (length(CAST("name" AS VARCHAR)) <= 100));
