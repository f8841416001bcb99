-- shop.orders: the whole table at its current snapshot
SELECT * FROM shop.orders WHERE amount = 10.555
