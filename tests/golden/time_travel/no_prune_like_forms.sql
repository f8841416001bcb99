-- LIKE that is not a plain prefix, ILIKE, NOT LIKE, LIKE with ESCAPE
SELECT * FROM shop.orders WHERE status LIKE '%aid' OR status LIKE 'p_id%' OR status ILIKE 'pa%' OR status NOT LIKE 'x%' OR status LIKE 'a!%%' ESCAPE '!'
