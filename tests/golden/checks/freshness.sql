-- checks/freshness.yaml: the checks of shop.events, compiled

-- the scan: every check's aggregates in one pass over the table
SELECT
  max("at") AS c0_max,
  max("logged") AS c1_max,
  max("day") FILTER (WHERE (kind = 'order')) AS c2_max
FROM "shop"."events";

-- c0 freshness_at (freshness, error): newest at younger than 2h
--   read from the scan: c0_max

-- c1 freshness_logged (freshness, error): newest logged younger than PT90M
--   read from the scan: c1_max

-- c2 freshness_day (freshness, warn): newest day younger than 1d
--   read from the scan: c2_max
