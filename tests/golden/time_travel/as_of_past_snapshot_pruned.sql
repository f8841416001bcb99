-- a past snapshot's files are pruned by the WHERE clause too
SELECT id FROM shop.orders FOR VERSION AS OF 1002 WHERE id BETWEEN 4 AND 5
