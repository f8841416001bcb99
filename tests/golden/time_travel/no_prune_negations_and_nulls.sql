-- NOT, NOT IN, IN with a NULL, IN a subquery
SELECT * FROM shop.orders WHERE NOT (id > 3) OR id NOT IN (1, 2) OR status IN ('a', NULL) OR id IN (SELECT 1)
