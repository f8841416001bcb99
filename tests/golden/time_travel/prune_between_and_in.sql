-- BETWEEN is two bounds; IN lists values (one value is an equality)
SELECT * FROM shop.orders WHERE id BETWEEN 2 AND 4 AND status IN ('new', 'paid') AND qty IN (5)
