-- shop.orders: the whole table at its current snapshot
-- shop.customers: the whole table at its current snapshot
SELECT a.id FROM shop.orders AS a ASOF JOIN shop.customers AS c ON c.id <= a.id WHERE c.country = 'FR'
