-- "shop"."orders" := shop.orders at snapshot 1003: files where "status" = 'paid' (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
-- "shop"."customers" := shop.customers at snapshot 2001: files where "country" = 'FR' (columns id, name, country)
SELECT * FROM shop.orders WHERE id IN (SELECT id FROM shop.customers WHERE country = 'FR') AND status = 'paid'
