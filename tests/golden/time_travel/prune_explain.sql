-- EXPLAIN of a read is pruned too; the statement runs as it was written
EXPLAIN SELECT id FROM shop.orders WHERE id = 4
