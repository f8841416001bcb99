-- shop.orders: the whole table at its current snapshot
SELECT * FROM shop.orders WHERE id = qty
