-- "shop@1002#0"."orders" := shop.orders at snapshot 1002: files where ("id" >= 4 AND "id" <= 5) (columns id, status, amount, placed, ts, logged, score, qty, paid, by column name)
SELECT id FROM "shop@1002#0".orders WHERE id BETWEEN 4 AND 5
