-- "shop@1003#0"."orders" := shop.orders at snapshot 1003: files where "id" > 3 (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
-- "shop@1001#1"."orders" := shop.orders at snapshot 1001: files where "status" = 'new' (columns id, status, amount, placed, ts, logged, score, qty, paid, by column name)
SELECT cur.id FROM "shop@1003#0".orders AS cur LEFT JOIN "shop@1001#1".orders AS was ON was.id = cur.id WHERE cur.id > 3 AND was.status = 'new'
