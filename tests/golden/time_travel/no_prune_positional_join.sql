-- a join that pairs rows by position: a pruned side would change the pairs
SELECT a.id FROM shop.orders AS a POSITIONAL JOIN shop.customers AS c WHERE c.country = 'FR'
