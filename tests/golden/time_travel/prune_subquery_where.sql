-- a subquery's own WHERE prunes its table; the outer table by its own
SELECT * FROM shop.orders WHERE id IN (SELECT id FROM shop.customers WHERE country = 'FR') AND status = 'paid'
