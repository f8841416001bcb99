-- Total sales by product line.
SELECT
    p.productLine,
    SUM(f.orderAmount) AS total_sales
FROM gold.fact_orders AS f
JOIN gold.dim_products AS p ON f.productCode = p.productCode
GROUP BY p.productLine
ORDER BY total_sales DESC
