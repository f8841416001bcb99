-- an unqualified column in a join could be either table's
SELECT o.id FROM shop.orders AS o JOIN shop.customers AS c ON c.id = o.id WHERE status = 'paid'
