-- shop.orders: the whole table at its current snapshot
SELECT * FROM (SELECT * FROM shop.orders) AS t WHERE id > 3
