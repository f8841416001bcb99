-- dates, and timestamps with and without a zone (a time without a zone is UTC for
-- a column with one; a zoned literal is converted to UTC)
SELECT * FROM shop.orders WHERE placed >= DATE '2026-01-01' AND placed < '2027-01-01' AND ts >= TIMESTAMP '2026-11-01 10:00:00' AND ts < TIMESTAMPTZ '2026-11-01 14:00:00+02:00' AND logged <= TIMESTAMP '2026-11-01 12:00:00'
