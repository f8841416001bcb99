-- IS NULL / IS NOT NULL, on the only table of the SELECT
SELECT * FROM shop.orders WHERE note IS NULL AND id IS NOT NULL
