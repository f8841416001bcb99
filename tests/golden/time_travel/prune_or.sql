-- OR of two translatable sides
SELECT * FROM shop.orders WHERE id < 10 OR status = 'paid'
