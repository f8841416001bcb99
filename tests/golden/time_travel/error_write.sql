-- only reads run
DELETE FROM shop.orders WHERE id = 1
