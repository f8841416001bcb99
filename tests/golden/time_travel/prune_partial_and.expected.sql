-- "shop"."orders" := shop.orders at snapshot 1003: files where "id" > 3 (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
SELECT * FROM shop.orders WHERE lower(status) = 'paid' AND id > 3
