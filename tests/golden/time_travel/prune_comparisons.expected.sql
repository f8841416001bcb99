-- "shop"."orders" := shop.orders at snapshot 1003: files where ((("id" > 3 AND "status" = 'paid') AND "qty" <= 10) AND "id" <> 7) (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
SELECT * FROM shop.orders WHERE id > 3 AND status = 'paid' AND qty <= 10 AND id <> 7
