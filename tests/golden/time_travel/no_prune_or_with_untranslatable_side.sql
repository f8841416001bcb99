-- OR with a side that cannot be translated
SELECT * FROM shop.orders WHERE id > 3 OR score > 1
