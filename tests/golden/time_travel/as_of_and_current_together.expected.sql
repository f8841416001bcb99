-- shop.orders: the whole table at its current snapshot
-- "shop@1002"."orders" := shop.orders at snapshot 1002: every file (columns id, status, amount, placed, ts, logged, score, qty, paid, by column name)
SELECT a.id FROM shop.orders AS a JOIN "shop@1002".orders AS b USING (id) WHERE a.id > 3
