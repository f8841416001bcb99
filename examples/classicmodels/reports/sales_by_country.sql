-- Total sales by country (top 10), joining the fact table to the location dimension.
SELECT
    dl.country,
    SUM(f.orderAmount) AS total_sales
FROM gold.fact_orders AS f
JOIN gold.dim_locations AS dl ON f.postalCode = dl.postalCode
GROUP BY dl.country
ORDER BY total_sales DESC
LIMIT 10
