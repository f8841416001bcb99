-- "shop"."orders" := shop.orders at snapshot 1003: files where "id" = 4 (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
EXPLAIN SELECT id FROM shop.orders WHERE id = 4
