-- time travel inside a CTE and a subquery
WITH old AS (SELECT id FROM shop.orders FOR VERSION AS OF 'audited') SELECT count(*) FROM old WHERE id NOT IN (SELECT id FROM shop.customers FOR TIMESTAMP AS OF TIMESTAMP '2026-10-02 00:00:00')
