-- "shop@1003"."orders" := shop.orders at snapshot 1003: every file (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
SELECT COUNT(*) FROM "shop@1003".orders
