-- shop.orders: the whole table at its current snapshot
-- shop.customers: the whole table at its current snapshot
SELECT o.id FROM shop.orders AS o LEFT JOIN shop.customers AS c ON c.id = o.id WHERE c.name IS NULL
