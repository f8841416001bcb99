-- "shop"."orders" := shop.orders at snapshot 1003: files where ("note" IS NULL AND "id" IS NOT NULL) (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
SELECT * FROM shop.orders WHERE note IS NULL AND id IS NOT NULL
