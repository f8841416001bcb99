-- shop.orders: the whole table at its current snapshot
SELECT * FROM shop.orders WHERE lower(status) = 'paid' OR id + 1 > 3
