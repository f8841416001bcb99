-- the current table next to its past version: the current one is mapped whole
SELECT a.id FROM shop.orders AS a JOIN shop.orders FOR VERSION AS OF 1002 AS b USING (id) WHERE a.id > 3
