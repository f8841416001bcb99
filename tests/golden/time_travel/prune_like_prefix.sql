-- LIKE 'prefix%' is STARTS WITH
SELECT * FROM shop.orders WHERE status LIKE 'pa%'
