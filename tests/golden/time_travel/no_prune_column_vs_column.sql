-- two columns compared
SELECT * FROM shop.orders WHERE id = qty
