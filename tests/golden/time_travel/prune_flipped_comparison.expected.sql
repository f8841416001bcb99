-- "shop"."orders" := shop.orders at snapshot 1003: files where ("id" > 3 AND "qty" <= 100) (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
SELECT * FROM shop.orders WHERE 3 < id AND 100 >= qty
