-- "shop"."orders" := shop.orders at snapshot 1003: files where "id" > 3 (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
-- "shop"."customers" := shop.customers at snapshot 2001: files where "country" = 'FR' (columns id, name, country)
SELECT o.id FROM shop.orders AS o JOIN shop.customers AS c ON c.id = o.id WHERE o.id > 3 AND c.country = 'FR'
