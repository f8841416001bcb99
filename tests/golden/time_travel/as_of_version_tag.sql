-- a version may be a tag's name
SELECT id FROM shop.orders FOR VERSION AS OF 'audited'
