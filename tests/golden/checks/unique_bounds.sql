-- checks/unique_bounds.yaml: the checks of shop.events, compiled

-- the scan: every check's aggregates in one pass over the table
SELECT
  count("id") AS c0_eval,
  count("id") - coalesce(bit_count(bitstring_agg("id", 1, 5000)), 0) AS c0_fail,
  count("small") AS c1_eval,
  count("small") - coalesce(bit_count(bitstring_agg("small", -10, 10)), 0) AS c1_fail,
  count("wide") AS c2_eval,
  count("wide") - coalesce(bit_count(bitstring_agg("wide", 0, 100000000)), 0) AS c2_fail,
  count("huge") AS c3_eval,
  count("huge") - count(DISTINCT "huge") AS c3_fail,
  count(*) FILTER (WHERE "id" IS NOT NULL AND "kind" IS NOT NULL) AS c4_eval,
  count(*) FILTER (WHERE "id" IS NOT NULL AND "kind" IS NOT NULL) - count(DISTINCT row("id", "kind")) FILTER (WHERE "id" IS NOT NULL AND "kind" IS NOT NULL) AS c4_fail,
  count(*) FILTER (WHERE (kind = 'click') AND "id" IS NOT NULL) AS c5_eval,
  count(*) FILTER (WHERE (kind = 'click') AND "id" IS NOT NULL) - coalesce(bit_count(bitstring_agg("id", 1, 5000) FILTER (WHERE (kind = 'click'))), 0) AS c5_fail
FROM "shop"."events";

-- c0 unique_id (unique, error): (id) unique
--   read from the scan: c0_eval, c0_fail
--   failing rows:
SET perfect_ht_threshold = 13;
SELECT * FROM "shop"."events" WHERE "id" IS NOT NULL AND ("id") IN (SELECT "id" FROM "shop"."events" WHERE "id" IS NOT NULL GROUP BY "id" HAVING count(*) > 1);
RESET perfect_ht_threshold;

-- c1 unique_small (unique, error): (small) unique
--   read from the scan: c1_eval, c1_fail
--   failing rows:
SET perfect_ht_threshold = 12;
SELECT * FROM "shop"."events" WHERE "small" IS NOT NULL AND ("small") IN (SELECT "small" FROM "shop"."events" WHERE "small" IS NOT NULL GROUP BY "small" HAVING count(*) > 1);
RESET perfect_ht_threshold;

-- c2 unique_wide (unique, error): (wide) unique
--   read from the scan: c2_eval, c2_fail
--   failing rows:
SELECT * FROM "shop"."events" WHERE "wide" IS NOT NULL AND ("wide") IN (SELECT "wide" FROM "shop"."events" WHERE "wide" IS NOT NULL GROUP BY "wide" HAVING count(*) > 1);

-- c3 unique_huge (unique, error): (huge) unique
--   read from the scan: c3_eval, c3_fail
--   failing rows:
SELECT * FROM "shop"."events" WHERE "huge" IS NOT NULL AND ("huge") IN (SELECT "huge" FROM "shop"."events" WHERE "huge" IS NOT NULL GROUP BY "huge" HAVING count(*) > 1);

-- c4 unique_id_kind (unique, error): (id, kind) unique
--   read from the scan: c4_eval, c4_fail
--   failing rows:
SELECT * FROM "shop"."events" WHERE "id" IS NOT NULL AND "kind" IS NOT NULL AND ("id", "kind") IN (SELECT "id", "kind" FROM "shop"."events" WHERE "id" IS NOT NULL AND "kind" IS NOT NULL GROUP BY "id", "kind" HAVING count(*) > 1);

-- c5 click_ids_unique (unique, error): (id) unique
--   read from the scan: c5_eval, c5_fail
--   failing rows:
SET perfect_ht_threshold = 13;
SELECT * FROM "shop"."events" WHERE (kind = 'click') AND "id" IS NOT NULL AND ("id") IN (SELECT "id" FROM "shop"."events" WHERE (kind = 'click') AND "id" IS NOT NULL GROUP BY "id" HAVING count(*) > 1);
RESET perfect_ht_threshold;
