-- a function of a column
SELECT * FROM shop.orders WHERE lower(status) = 'paid' OR id + 1 > 3
