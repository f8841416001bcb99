-- "shop@1002"."orders" := shop.orders at snapshot 1002: every file (columns id, status, amount, placed, ts, logged, score, qty, paid, by column name)
-- "shop@2001"."customers" := shop.customers at snapshot 2001: every file (columns id, name, country)
WITH old AS (SELECT id FROM "shop@1002".orders) SELECT COUNT(*) FROM old WHERE NOT id IN (SELECT id FROM "shop@2001".customers)
