-- shop.orders: the whole table at its current snapshot
SELECT * FROM shop.orders WHERE id > 3 OR score > 1
