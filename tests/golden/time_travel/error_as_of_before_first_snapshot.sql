-- a time before the first snapshot names the first one
SELECT id FROM shop.orders FOR TIMESTAMP AS OF TIMESTAMP '2026-11-01 09:59:59'
