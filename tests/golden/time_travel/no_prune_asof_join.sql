-- an ASOF join: pruning its right side would change which row is nearest
SELECT a.id FROM shop.orders AS a ASOF JOIN shop.customers AS c ON c.id <= a.id WHERE c.country = 'FR'
