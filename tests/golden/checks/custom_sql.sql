-- checks/custom_sql.yaml: the checks of shop.orders, compiled

-- c0 sql (sql, error): the query returns no rows
--   its own query:
SELECT count(*) FROM (SELECT * FROM "shop"."orders" WHERE amount < 0) AS failures;

-- c1 refunds_within_amount (sql, warn): the query returns no rows
--   its own query:
SELECT count(*) FROM (SELECT o.id, o.amount, r.amount AS refunded
FROM "shop"."orders" AS o JOIN shop.refunds AS r ON r.order_id = o.id
WHERE r.amount > o.amount
) AS failures;

-- c2 codes_are_unique_per_amount (sql, error): the query returns no rows
--   its own query:
SELECT count(*) FROM (SELECT code FROM "shop"."orders" WHERE regexp_matches(code, '^X{2}') GROUP BY code HAVING count(*) > (SELECT count(*) / 2 FROM "shop"."orders")) AS failures;

-- c3 writes_are_refused (sql, error): the query returns no rows
--   refused: a sql check must be a SELECT returning the failing rows; it may not write
