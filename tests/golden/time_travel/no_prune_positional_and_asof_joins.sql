-- joins that pair rows by position or by nearest key: a pruned side changes the pairs
SELECT a.id FROM shop.orders AS a POSITIONAL JOIN shop.customers AS c WHERE c.country = 'FR'
