-- shop.orders: the whole table at its current snapshot
SELECT * FROM shop.orders WHERE NOT (id > 3) OR id NOT IN (1, 2) OR status IN ('a', NULL) OR id IN (SELECT 1)
