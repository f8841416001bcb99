-- "shop"."orders" := shop.orders at snapshot 1003: files where ("id" > 3 AND "status" = 'new') (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
SELECT * FROM shop.orders AS o WHERE O.ID > 3 AND o.Status = 'new'
