-- a table read twice at its current snapshot: both read the whole table
SELECT a.id FROM shop.orders AS a JOIN shop.orders AS b ON a.id = b.id WHERE a.id > 3
