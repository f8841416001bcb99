-- "shop"."orders" := shop.orders at snapshot 1003: files where ((("id" >= 2 AND "id" <= 4) AND "status" IN ('new', 'paid')) AND "qty" = 5) (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
SELECT * FROM shop.orders WHERE id BETWEEN 2 AND 4 AND status IN ('new', 'paid') AND qty IN (5)
