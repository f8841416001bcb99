-- a literal on the left: the comparison is turned around
SELECT * FROM shop.orders WHERE 3 < id AND 100 >= qty
