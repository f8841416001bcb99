-- any SQL expression of a time: 12:00 minus 90 minutes is 10:30
SELECT id FROM shop.orders FOR TIMESTAMP AS OF TIMESTAMP '2026-11-01 12:00:00' - INTERVAL 90 MINUTE
