-- a millisecond before the second commit: the first snapshot
SELECT id FROM shop.orders FOR TIMESTAMP AS OF TIMESTAMP '2026-11-01 10:59:59.999'
