-- FOR VERSION AS OF a snapshot id: that snapshot's files, in a schema of their own
SELECT id, status FROM shop.orders FOR VERSION AS OF 1002
