-- an unknown tag
SELECT id FROM shop.orders FOR VERSION AS OF 'release-1'
