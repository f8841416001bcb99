-- a time with a zone against a column without one
SELECT * FROM shop.orders WHERE logged >= TIMESTAMPTZ '2026-11-01 10:00:00+02:00'
