-- only AS OF (and AT) select a version; a range of them does not
SELECT id FROM shop.orders FOR SYSTEM_TIME BETWEEN TIMESTAMP '2026-11-01 10:00:00' AND TIMESTAMP '2026-11-01 12:00:00'
