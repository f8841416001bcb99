-- Total sales by country (top 10) from the order lines themselves: one row per order line,
-- whatever gold.dim_locations holds (see README.md, "The location key").
SELECT
    c.country,
    SUM(od.quantityOrdered * od.priceEach) AS total_sales
FROM raw.orderdetails AS od
JOIN raw.orders AS o USING (orderNumber)
JOIN raw.customers AS c USING (customerNumber)
GROUP BY c.country
ORDER BY total_sales DESC
LIMIT 10
