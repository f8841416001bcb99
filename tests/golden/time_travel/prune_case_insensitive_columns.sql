-- column names match the table's fields without regard to case; a qualified column too
SELECT * FROM shop.orders AS o WHERE O.ID > 3 AND o.Status = 'new'
