-- checks/refused.yaml: the checks of shop.orders, compiled

-- c0 not_null_missing_column (not_null, error): refused
--   no column `missing_column` in `shop.orders`; columns: id, status, amount, placed

-- c1 between_status (between, error): refused
--   `status` of `shop.orders` is text (VARCHAR); 1 is a number: quote it, or check a numeric column

-- c2 between_amount (between, error): refused
--   `amount` of `shop.orders` is DECIMAL(10,2); 'lots' is not a number

-- c3 between_placed (between, error): refused
--   `placed` of `shop.orders` is DATE; compare it with a date like '2024-01-01', not 20240101

-- c4 accepted_values_amount (accepted_values, error): refused
--   `amount` of `shop.orders` is DECIMAL(10,2); 'two' is not a number

-- c5 freshness_status (freshness, error): refused
--   freshness needs a date or timestamp column; `status` is VARCHAR

-- c6 mean_status (aggregate, error): refused
--   `mean` needs a numeric column; `status` is VARCHAR

-- c7 relationships_nope (relationships, error): refused
--   no column `nope` in `shop.orders`; columns: id, status, amount, placed

-- c8 accepted_values_status (accepted_values, error): refused
--   `accepted_values` on `status` lists only NULL, and NULLs are not evaluated by value checks: use `not_null` for them
