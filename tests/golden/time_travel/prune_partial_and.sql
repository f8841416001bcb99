-- a conjunct that cannot be translated is left out: the rest still prunes
SELECT * FROM shop.orders WHERE lower(status) = 'paid' AND id > 3
