-- EXPLAIN of a statement reading the past
EXPLAIN SELECT id FROM shop.orders FOR VERSION AS OF 1001
