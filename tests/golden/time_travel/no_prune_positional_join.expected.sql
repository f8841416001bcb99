-- shop.orders: the whole table at its current snapshot
-- shop.customers: the whole table at its current snapshot
SELECT a.id FROM shop.orders AS a POSITIONAL JOIN shop.customers AS c WHERE c.country = 'FR'
