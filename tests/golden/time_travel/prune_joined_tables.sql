-- joined tables are each pruned by the conditions on their own (qualified) columns
SELECT o.id FROM shop.orders AS o JOIN shop.customers AS c ON c.id = o.id WHERE o.id > 3 AND c.country = 'FR'
