-- comparisons of a column with a literal of its own kind, joined by AND
SELECT * FROM shop.orders WHERE id > 3 AND status = 'paid' AND qty <= 10 AND id <> 7
