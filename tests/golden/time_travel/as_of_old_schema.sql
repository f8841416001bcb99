-- a snapshot written before a column was added reads with its own schema (no note)
SELECT * FROM shop.orders FOR VERSION AS OF 1001
