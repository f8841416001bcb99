-- a table with no snapshot has no past
SELECT id FROM shop.empty FOR VERSION AS OF 1
