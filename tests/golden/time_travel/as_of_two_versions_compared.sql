-- two versions of one table in one statement: each reference gets its own view; a
-- filtered reference its own (#index), so the other one keeps every file
SELECT cur.id FROM shop.orders FOR VERSION AS OF 1003 AS cur LEFT JOIN shop.orders FOR VERSION AS OF 1001 AS was ON was.id = cur.id WHERE cur.id > 3 AND was.status = 'new'
