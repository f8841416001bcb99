-- "shop@1002"."orders" := shop.orders at snapshot 1002: every file (columns id, status, amount, placed, ts, logged, score, qty, paid, by column name)
SELECT id FROM "shop@1002".orders
