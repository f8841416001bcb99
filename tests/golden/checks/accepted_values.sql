-- checks/accepted_values.yaml: the checks of shop.orders, compiled

-- the scan: every check's aggregates in one pass over the table
SELECT
  count("status") AS c0_eval,
  count(*) FILTER (WHERE "status" IS NOT NULL AND ("status" NOT IN ('new', 'paid', 'shipped'))) AS c0_fail,
  count("priority") AS c1_eval,
  count(*) FILTER (WHERE "priority" IS NOT NULL AND ("priority" NOT IN (1, 2, 3))) AS c1_fail,
  count(*) FILTER (WHERE (priority > 1) AND "note" IS NOT NULL) AS c2_eval,
  count(*) FILTER (WHERE (priority > 1) AND "note" IS NOT NULL AND ("note" NOT IN ('it''s fine', 'say "hi"'))) AS c2_fail,
  count("status") AS c3_eval,
  count(*) FILTER (WHERE "status" IS NOT NULL AND ("status" IN ('deleted'))) AS c3_fail,
  count("status") AS c4_eval,
  count(*) FILTER (WHERE "status" IS NOT NULL AND ("status" NOT IN ('new', 'paid'))) AS c4_fail,
  count("priority") AS c5_eval,
  count(*) FILTER (WHERE "priority" IS NOT NULL AND ("priority" IN (0, -1))) AS c5_fail,
  count("status") AS c6_eval,
  count(*) FILTER (WHERE "status" IS NOT NULL AND ("status" NOT IN ('new'))) AS c6_fail,
  count("priority") AS c7_eval,
  count(*) FILTER (WHERE "priority" IS NOT NULL AND ("priority" IN (9))) AS c7_fail
FROM "shop"."orders";

-- c0 accepted_values_status (accepted_values, error): status in ['new', 'paid', 'shipped']
--   read from the scan: c0_eval, c0_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "status" IS NOT NULL AND ("status" NOT IN ('new', 'paid', 'shipped'));

-- c1 accepted_values_priority (accepted_values, error): priority in [1, 2, 3]
--   read from the scan: c1_eval, c1_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "priority" IS NOT NULL AND ("priority" NOT IN (1, 2, 3));

-- c2 accepted_values_note (accepted_values, error): note in ['it''s fine', 'say "hi"']
--   read from the scan: c2_eval, c2_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE (priority > 1) AND "note" IS NOT NULL AND ("note" NOT IN ('it''s fine', 'say "hi"'));

-- c3 not_in_set_status (not_in_set, error): status not in ['deleted']
--   read from the scan: c3_eval, c3_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "status" IS NOT NULL AND ("status" IN ('deleted'));

-- c4 gx_status_in_set (accepted_values, error, mostly 0.9): status in ['new', 'paid']
--   read from the scan: c4_eval, c4_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "status" IS NOT NULL AND ("status" NOT IN ('new', 'paid'));

-- c5 not_in_set_priority (not_in_set, error): priority not in [0, -1]
--   read from the scan: c5_eval, c5_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "priority" IS NOT NULL AND ("priority" IN (0, -1));

-- c6 status_new_or_null (accepted_values, error): status in ['new']
--   read from the scan: c6_eval, c6_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "status" IS NOT NULL AND ("status" NOT IN ('new'));

-- c7 priority_not_9 (not_in_set, error): priority not in [9]
--   read from the scan: c7_eval, c7_fail
--   failing rows:
SELECT * FROM "shop"."orders" WHERE "priority" IS NOT NULL AND ("priority" IN (9));
