-- an unknown snapshot id names the latest ones
SELECT id FROM shop.orders FOR VERSION AS OF 42
