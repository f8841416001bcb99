-- shop.orders: the whole table at its current snapshot
SELECT * FROM shop.orders WHERE id = '3' OR status = 3 OR id = 3.5 OR placed = 20260101
