-- "shop@1001"."orders" := shop.orders at snapshot 1001: every file (columns id, status, amount, placed, ts, logged, score, qty, paid, by column name)
SELECT id FROM "shop@1001".orders
