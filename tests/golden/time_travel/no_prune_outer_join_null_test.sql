-- IS NULL on a joined table keeps its NULL-extended rows: not translated
SELECT o.id FROM shop.orders AS o LEFT JOIN shop.customers AS c ON c.id = o.id WHERE c.name IS NULL
