-- "shop"."orders" := shop.orders at snapshot 1003: files where ("id" < 10 OR "status" = 'paid') (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
SELECT * FROM shop.orders WHERE id < 10 OR status = 'paid'
