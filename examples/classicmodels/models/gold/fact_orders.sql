-- One row per order line, with amounts and the customer's location key.
SELECT
    od.orderLineNumber,
    o.orderNumber,
    o.customerNumber,
    dl.postalCode,
    od.productCode,
    o.orderDate,
    o.requiredDate,
    o.shippedDate,
    o.status,
    o.comments,
    od.quantityOrdered,
    od.priceEach,
    od.quantityOrdered * od.priceEach AS orderAmount,
    p.buyPrice,
    p.MSRP
FROM raw.orders AS o
LEFT JOIN raw.orderdetails AS od USING (orderNumber)
LEFT JOIN raw.products AS p USING (productCode)
LEFT JOIN raw.customers AS c USING (customerNumber)
LEFT JOIN gold.dim_locations AS dl ON c.postalCode = dl.postalCode
