-- shop.orders: the whole table at its current snapshot
SELECT * FROM shop.orders WHERE status LIKE '%aid' OR status LIKE 'p_id%' OR status ILIKE 'pa%' OR status NOT LIKE 'x%' OR status LIKE 'a!%%' ESCAPE '!'
