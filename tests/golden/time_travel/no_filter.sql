-- no WHERE: the whole table
SELECT count(*) FROM shop.orders
