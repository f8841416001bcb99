-- "shop"."orders" := shop.orders at snapshot 1003: files where "status" STARTS WITH 'pa' (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
SELECT * FROM shop.orders WHERE status LIKE 'pa%'
