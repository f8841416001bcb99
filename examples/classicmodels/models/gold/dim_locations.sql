-- Every distinct customer location.
SELECT DISTINCT
    postalCode,
    city,
    state,
    country
FROM raw.customers
