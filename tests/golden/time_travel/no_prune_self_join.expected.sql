-- shop.orders: the whole table at its current snapshot
SELECT a.id FROM shop.orders AS a JOIN shop.orders AS b ON a.id = b.id WHERE a.id > 3
