-- a value that is not a time
SELECT id FROM shop.orders FOR TIMESTAMP AS OF 'yesterday-ish'
