-- a plain string is read as a time
SELECT id FROM shop.orders FOR TIMESTAMP AS OF '2026-11-01 11:15:00'
