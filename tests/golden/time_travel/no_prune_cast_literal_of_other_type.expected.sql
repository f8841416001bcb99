-- shop.orders: the whole table at its current snapshot
SELECT * FROM shop.orders WHERE status = CAST('5' AS INTEGER)
