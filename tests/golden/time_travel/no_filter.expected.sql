-- shop.orders: the whole table at its current snapshot
SELECT count(*) FROM shop.orders
