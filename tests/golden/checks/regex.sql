-- checks/regex.yaml: the checks of shop.customers, compiled

-- the scan: every check's aggregates in one pass over the table
SELECT
  count(*) FILTER (WHERE (country = 'US') AND "postal" IS NOT NULL) AS c0_eval,
  count(*) FILTER (WHERE (country = 'US') AND "postal" IS NOT NULL AND (NOT regexp_matches(CAST("postal" AS VARCHAR), '^\d{5}$'))) AS c0_fail,
  count("id") AS c1_eval,
  count(*) FILTER (WHERE "id" IS NOT NULL AND (NOT regexp_matches(CAST("id" AS VARCHAR), '^[1-9][0-9]*$'))) AS c1_fail,
  count("name") AS c2_eval,
  count(*) FILTER (WHERE "name" IS NOT NULL AND (NOT regexp_matches(CAST("name" AS VARCHAR), '^[^'']*''?[^'']*$'))) AS c2_fail,
  count("phone") AS c3_eval,
  count(*) FILTER (WHERE "phone" IS NOT NULL AND (NOT regexp_matches(CAST("phone" AS VARCHAR), '\+\d+'))) AS c3_fail
FROM "shop"."customers";

-- c0 regex_postal (regex, error): postal matches /^\d{5}$/
--   read from the scan: c0_eval, c0_fail
--   failing rows:
SELECT * FROM "shop"."customers" WHERE (country = 'US') AND "postal" IS NOT NULL AND (NOT regexp_matches(CAST("postal" AS VARCHAR), '^\d{5}$'));

-- c1 regex_id (regex, error): id matches /^[1-9][0-9]*$/
--   read from the scan: c1_eval, c1_fail
--   failing rows:
SELECT * FROM "shop"."customers" WHERE "id" IS NOT NULL AND (NOT regexp_matches(CAST("id" AS VARCHAR), '^[1-9][0-9]*$'));

-- c2 regex_name (regex, error): name matches /^[^']*'?[^']*$/
--   read from the scan: c2_eval, c2_fail
--   failing rows:
SELECT * FROM "shop"."customers" WHERE "name" IS NOT NULL AND (NOT regexp_matches(CAST("name" AS VARCHAR), '^[^'']*''?[^'']*$'));

-- c3 regex_phone (regex, error): phone matches /\+\d+/
--   read from the scan: c3_eval, c3_fail
--   failing rows:
SELECT * FROM "shop"."customers" WHERE "phone" IS NOT NULL AND (NOT regexp_matches(CAST("phone" AS VARCHAR), '\+\d+'));
