-- shop.orders: the whole table at its current snapshot
SELECT * FROM shop.orders WHERE score > 1.5
