-- a time with a zone: 12:30 at +02:00 is 10:30 UTC, before the second commit
SELECT id FROM shop.orders FOR TIMESTAMP AS OF TIMESTAMPTZ '2026-11-01 12:30:00+02:00'
