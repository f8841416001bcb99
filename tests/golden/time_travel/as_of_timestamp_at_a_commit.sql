-- a snapshot committed at exactly that moment is current then
SELECT id FROM shop.orders FOR TIMESTAMP AS OF TIMESTAMP '2026-11-01 11:00:00'
